// Package apitest holds tests of bindings/torch as a program outside this repository uses it:
// the library installed with `make install` into a prefix, found through pkg-config, linked by a
// module of its own (examples/train), with no LD_LIBRARY_PATH; the start-up check of the C ABI
// version; and doc comments on every exported identifier. It has no code of its own.
package apitest
