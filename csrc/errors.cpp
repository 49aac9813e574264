// errors.cpp - gt_error objects and the classification of C++ exceptions into GT_ERR_* codes.
//
// guard() (internal.h) runs every entry point's body and calls current_error() from its catch
// block, so nothing thrown by libtorch can unwind into the caller (into Go, that would abort
// the process). The message is kept without libtorch's C++ backtrace.

#include "internal.h"

#include <c10/util/Exception.h>

#include <exception>
#include <new>
#include <string>
#include <utility>

struct gt_error_s {
  int code;
  std::string message;
};

namespace {

gt_error make_error(int code, std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  return new gt_error_s{code, std::move(message)};
}

}  // namespace

namespace gt {

gt_error current_error() {
  try {
    throw;
  } catch (const c10::OutOfMemoryError &e) {
    return make_error(GT_ERR_OOM, e.what_without_backtrace());
  } catch (const c10::DistError &e) {
    // c10d's store, network and backend errors (timeouts, a peer that closed the connection).
    return make_error(GT_ERR_DIST, e.what_without_backtrace());
  } catch (const c10::Error &e) {
    // libtorch's CPU allocator reports failure through a plain enforce, not OutOfMemoryError.
    std::string msg = e.what_without_backtrace();
    bool oom = msg.find("can't allocate memory") != std::string::npos ||
               msg.find("not enough memory") != std::string::npos ||
               msg.find("out of memory") != std::string::npos;
    return make_error(oom ? GT_ERR_OOM : GT_ERR_TORCH, std::move(msg));
  } catch (const ArgumentError &e) {
    return make_error(GT_ERR_ARGUMENT, e.what());
  } catch (const FreedError &e) {
    return make_error(GT_ERR_FREED, e.what());
  } catch (const CommError &e) {
    return make_error(GT_ERR_DIST, e.what());
  } catch (const std::bad_alloc &) {
    return make_error(GT_ERR_OOM, "out of memory (std::bad_alloc)");
  } catch (const std::exception &e) {
    return make_error(GT_ERR_INTERNAL, e.what());
  } catch (...) {
    return make_error(GT_ERR_INTERNAL, "unknown C++ exception");
  }
}

}  // namespace gt

extern "C" {

int gt_error_code(gt_error e) { return e ? e->code : 0; }
const char *gt_error_message(gt_error e) { return e ? e->message.c_str() : ""; }
void gt_error_free(gt_error e) { delete e; }

}  // extern "C"
