package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/growthtrain/growthtrain/internal/progress"
)

var errStalled = errors.New("stalled")

// Download fetches one file of repo at revision ("" means "main") into destDir, keeping the
// file's path inside the repo, and returns the local path. See DownloadFile.
func (c *Client) Download(ctx context.Context, repo, revision, filename, destDir string) (string, error) {
	info, err := c.Stat(ctx, repo, revision, filename)
	if err != nil {
		return "", err
	}
	return c.DownloadFile(ctx, info, destDir)
}

// DownloadFile downloads the file that info (from Stat) describes into destDir.
//
// A file already at the destination is kept, without downloading, when it matches: its SHA-256
// when the hub gave one, else its size. Otherwise the data goes to "<dest>.part", which a
// later call resumes with a Range request (a server that answers 200 instead of 206 restarts it
// from byte 0). When the transfer ends, the size and, when known, the SHA-256 of the whole
// file are checked; a mismatch deletes the .part file and returns a *ChecksumError (after one
// fresh download when the bad data may come from a resumed, older .part). The file is then
// fsynced and renamed into place. A cancelled ctx returns at once and keeps the .part file.
func (c *Client) DownloadFile(ctx context.Context, info *FileInfo, destDir string) (string, error) {
	if err := checkFilename(info.Filename); err != nil {
		return "", err
	}
	dest := filepath.Join(destDir, filepath.FromSlash(info.Filename))
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	ok, err := upToDate(dest, info)
	if err != nil {
		return "", err
	}
	if ok {
		c.logf("hub: %s is up to date, not downloaded", dest)
		return dest, nil
	}
	part := dest + PartSuffix
	startedOver := false
	for {
		resumed := false
		err := c.retry(ctx, func() error {
			r, err := c.transfer(ctx, info, part)
			resumed = resumed || r
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("hub: download of %s interrupted, %s kept for resuming: %w", info.Filename, part, err)
			}
			if _, ok := errors.AsType[*ChecksumError](err); ok {
				os.Remove(part)
			}
			return "", err
		}
		err = verify(part, info)
		if err == nil {
			break
		}
		os.Remove(part)
		var ce *ChecksumError
		if errors.As(err, &ce) && resumed && !startedOver {
			c.logf("%v; the resumed data may be stale, downloading %s again from the start", err, info.Filename)
			startedOver = true
			continue
		}
		return "", err
	}
	if err := os.Rename(part, dest); err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	syncDir(filepath.Dir(dest))
	return dest, nil
}

// transfer appends the rest of the file to part with one GET. resumed reports whether bytes
// already in part were kept (a 206 answer to a Range request).
func (c *Client) transfer(ctx context.Context, info *FileInfo, part string) (resumed bool, err error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return false, fmt.Errorf("hub: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("hub: %w", cerr)
		}
	}()
	restart := func() error {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		return nil
	}
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return false, fmt.Errorf("hub: %w", err)
	}
	if info.Size >= 0 && off > info.Size {
		if err := restart(); err != nil {
			return false, err
		}
		off = 0
	}
	if info.Size >= 0 && off == info.Size {
		return off > 0, f.Sync() // complete already; verified by the caller
	}

	endpoint, err := url.Parse(c.endpoint())
	if err != nil {
		return false, fmt.Errorf("hub: bad endpoint %q: %w", c.endpoint(), err)
	}
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := c.StallTimeout
	if stall == 0 {
		stall = defaultStallTimeout
	}
	kick := func() {}
	if stall > 0 {
		t := time.AfterFunc(stall, func() { cancel(errStalled) })
		defer t.Stop()
		kick = func() { t.Reset(stall) }
	}
	req, err := c.newRequest(reqCtx, http.MethodGet, info.URL, endpoint)
	if err != nil {
		return false, err
	}
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := c.getClient(endpoint).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, fmt.Errorf("hub: %s: %w", info.Filename, ctx.Err())
		}
		if context.Cause(reqCtx) == errStalled {
			return false, &transientError{err: fmt.Errorf("hub: %s: no answer for %v", info.Filename, stall)}
		}
		return false, &transientError{err: fmt.Errorf("hub: GET %s: %w", info.Filename, err)}
	}
	defer resp.Body.Close()
	// total is the size of the whole file as far as anyone announced it (-1: nobody did).
	total := info.Size
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, rangeTotal, ok := parseContentRange(resp.Header.Get("Content-Range"))
		total = max(total, rangeTotal)
		if ok && rangeTotal >= 0 && info.Size >= 0 && rangeTotal != info.Size {
			return false, sizeMismatch(info, rangeTotal)
		}
		if !ok || start != off {
			if err := restart(); err != nil {
				return false, err
			}
			return false, &transientError{err: fmt.Errorf("hub: %s: asked for bytes=%d-, got Content-Range %q; starting over",
				info.Filename, off, resp.Header.Get("Content-Range"))}
		}
		resumed = off > 0
	case http.StatusOK:
		if resp.ContentLength >= 0 && info.Size >= 0 && resp.ContentLength != info.Size && resp.Header.Get("Content-Encoding") == "" {
			return false, sizeMismatch(info, resp.ContentLength)
		}
		if total < 0 && resp.ContentLength >= 0 && resp.Header.Get("Content-Encoding") == "" {
			total = resp.ContentLength
		}
		if off > 0 {
			c.logf("hub: %s: server ignored the Range request, downloading from the start", info.Filename)
			if err := restart(); err != nil {
				return false, err
			}
			off = 0
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if err := restart(); err != nil {
			return false, err
		}
		return false, &transientError{err: fmt.Errorf("hub: %s: range bytes=%d- not satisfiable; starting over", info.Filename, off)}
	default:
		return false, c.httpError(resp, info.Repo, info.Revision, info.Filename)
	}

	w := c.Progress
	if w == nil {
		w = os.Stderr
	}
	bar := progress.NewBytesTo(w, c.ShowProgress, info.Size, info.Filename)
	_ = bar.Set64(off)
	body := &trackReader{r: resp.Body, kick: kick}
	// Never write past the announced size (or, with none, the cap): a server sending more
	// would otherwise fill the disk before the size check after the transfer.
	limit, capped := total, false
	if limit < 0 {
		if m := c.maxUnannounced(); m >= 0 {
			limit, capped = m, true
		}
	}
	var src io.Reader = body
	if limit >= 0 {
		src = io.LimitReader(body, max(0, limit-off))
	}
	n, err := io.Copy(io.MultiWriter(f, bar), src)
	if err == nil && limit >= 0 && off+n == limit && bodyHasMore(body) {
		_ = bar.Exit()
		if capped {
			return resumed, &ChecksumError{File: info.Filename, Kind: "size",
				Expected: fmt.Sprintf("at most %d bytes (no size announced)", limit),
				Actual:   fmt.Sprintf("more than the %d-byte limit (Client.MaxUnannouncedSize)", limit)}
		}
		return resumed, &ChecksumError{File: info.Filename, Kind: "size",
			Expected: fmt.Sprintf("%d bytes", limit), Actual: fmt.Sprintf("more than %d bytes", limit)}
	}
	if err != nil {
		_ = bar.Exit()
		if body.err == nil { // the write failed: not worth a retry
			return resumed, fmt.Errorf("hub: writing %s: %w", part, err)
		}
		if ctx.Err() != nil {
			return resumed, fmt.Errorf("hub: %s: %w", info.Filename, ctx.Err())
		}
		if context.Cause(reqCtx) == errStalled {
			return resumed, &transientError{err: fmt.Errorf("hub: %s: no data for %v after %d bytes", info.Filename, stall, off+n), progressed: n > 0}
		}
		return resumed, &transientError{err: fmt.Errorf("hub: %s: connection lost after %d bytes: %w", info.Filename, off+n, err), progressed: n > 0}
	}
	if info.Size >= 0 && off+n < info.Size {
		_ = bar.Exit()
		return resumed, &transientError{err: fmt.Errorf("hub: %s: body ended after %d of %d bytes", info.Filename, off+n, info.Size), progressed: n > 0}
	}
	_ = bar.Finish()
	if err := f.Sync(); err != nil {
		return resumed, fmt.Errorf("hub: %w", err)
	}
	return resumed, nil
}

// getClient is the HTTP client for GETs: it follows redirects but sends the token only to the
// endpoint's origin.
func (c *Client) getClient(endpoint *url.URL) *http.Client {
	base := c.baseHTTP()
	hc := *base
	prev := base.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if !sameOrigin(req.URL, endpoint) {
			req.Header.Del("Authorization")
		}
		if prev != nil {
			return prev(req, via)
		}
		return nil
	}
	return &hc
}

// trackReader remembers read errors (to tell them from write errors) and reports progress to
// the stall watchdog.
type trackReader struct {
	r    io.Reader
	err  error
	kick func()
}

func (t *trackReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.kick()
	}
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// bodyHasMore reports whether a body that has delivered all the bytes announced still has data.
// A read error (the stall watchdog, a dropped connection) counts as no: the announced bytes are
// all there, and the size and checksum checks decide.
func bodyHasMore(r io.Reader) bool {
	var one [1]byte
	n, _ := io.ReadFull(r, one[:])
	return n > 0
}

// parseContentRange parses "bytes <start>-<end>/<total>"; total is -1 when it is "*".
func parseContentRange(cr string) (start, total int64, ok bool) {
	s, ok := strings.CutPrefix(strings.TrimSpace(cr), "bytes ")
	if !ok {
		return 0, 0, false
	}
	first, rest, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, false
	}
	_, size, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	total = -1
	if size = strings.TrimSpace(size); size != "*" {
		if total, err = strconv.ParseInt(size, 10, 64); err != nil || total < 0 {
			return 0, 0, false
		}
	}
	return start, total, true
}

func sizeMismatch(info *FileInfo, got int64) *ChecksumError {
	return &ChecksumError{File: info.Filename, Kind: "size",
		Expected: strconv.FormatInt(info.Size, 10) + " bytes", Actual: strconv.FormatInt(got, 10) + " bytes"}
}

func upToDate(dest string, info *FileInfo) (bool, error) {
	st, err := os.Stat(dest)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("hub: %w", err)
	}
	if !st.Mode().IsRegular() {
		return false, fmt.Errorf("hub: %s exists and is not a regular file", dest)
	}
	if info.Size >= 0 && st.Size() != info.Size {
		return false, nil
	}
	if info.SHA256 != "" {
		sum, err := fileSHA256(dest)
		return err == nil && sum == info.SHA256, err
	}
	return info.Size >= 0, nil
}

func verify(part string, info *FileInfo) error {
	st, err := os.Stat(part)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if info.Size >= 0 && st.Size() != info.Size {
		return sizeMismatch(info, st.Size())
	}
	if info.SHA256 == "" {
		return nil
	}
	sum, err := fileSHA256(part)
	if err != nil {
		return err
	}
	if sum != info.SHA256 {
		return &ChecksumError{File: info.Filename, Kind: "sha256", Expected: info.SHA256, Actual: sum}
	}
	return nil
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hub: reading %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// syncDir makes a rename durable; errors are ignored (not every system can fsync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
