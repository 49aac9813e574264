// Package hub downloads model files from the Hugging Face (HF) hub, or from any server that uses
// the hub's URL layout ({endpoint}/{repo}/resolve/{revision}/{filename}).
//
// Downloads are resumable (data goes to "<file>.part" and is continued with a Range request),
// retried on transient failures, checked against the size and, for Git LFS files, the SHA-256
// that the hub announces in its response headers, and moved into place atomically.
package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultEndpoint is the hub used when neither Client.Endpoint nor $HF_ENDPOINT is set.
	DefaultEndpoint = "https://huggingface.co"
	// DefaultRevision is the branch used when no revision is given.
	DefaultRevision = "main"
	// PartSuffix is appended to a file's name while it is being downloaded.
	PartSuffix = ".part"

	defaultTries        = 3
	defaultRetryDelay   = time.Second
	defaultStallTimeout = 60 * time.Second
	maxRedirects        = 10
	maxTotalTries       = 100
)

// Client downloads files from the hub. The zero value is ready to use.
type Client struct {
	// Endpoint is the hub's base URL. Empty: DefaultEndpoint. (The package reads no
	// environment variables; the growthtrain CLI fills this from $HF_ENDPOINT.)
	Endpoint string
	// Token is sent as "Authorization: Bearer <token>" to the hub (never to other hosts that a
	// download is redirected to). Empty: no token. (The CLI fills it from $HF_TOKEN, else
	// $HUGGING_FACE_HUB_TOKEN.)
	Token string
	// HTTP is the client used for requests. Nil: a client without an overall timeout (a
	// download can take long; stalls are caught by StallTimeout instead).
	HTTP *http.Client
	// Progress receives the progress bars. Nil: os.Stderr.
	Progress io.Writer
	// ShowProgress draws the bars (the caller decides, e.g. only when stderr is a terminal).
	ShowProgress bool
	// Tries is how many tries a request gets on transient errors (network errors, HTTP 5xx,
	// 408, 429, a body cut short). A try that saved data before failing resets the count
	// (at most 100 tries in all). 0: 3.
	Tries int
	// RetryDelay is the wait before the second try; it doubles for each later one. 0: 1s.
	RetryDelay time.Duration
	// StallTimeout aborts (and retries) a body that sends no byte for this long. 0: 60s;
	// negative: never.
	StallTimeout time.Duration
	// Logf, when set, receives one-line notes (skipped files, retries, missing optional files).
	Logf func(format string, args ...any)
	// MaxUnannouncedSize caps a file whose size the server announces nowhere (no X-Linked-Size,
	// Content-Length or Content-Range total): a longer body is an error. The hub announces
	// every size, so this only matters for other servers. 0: DefaultMaxUnannouncedSize;
	// negative: no cap. A file of announced size is always stopped at that size.
	MaxUnannouncedSize int64
}

// DefaultMaxUnannouncedSize is the cap on a download whose size nobody announced (1 GiB: far
// above any config or tokenizer file, the only files the hub serves without LFS).
const DefaultMaxUnannouncedSize = 1 << 30

func (c *Client) maxUnannounced() int64 {
	if c.MaxUnannouncedSize == 0 {
		return DefaultMaxUnannouncedSize
	}
	return c.MaxUnannouncedSize
}

// FileInfo is what the hub says about a file, read from the headers of a HEAD request.
type FileInfo struct {
	Repo     string
	Revision string // the revision asked for
	Filename string
	URL      string // the resolve URL to download from, at Commit when the hub sent one
	Commit   string // X-Repo-Commit: the commit the revision resolved to ("" if not sent)
	ETag     string // X-Linked-Etag, else ETag, without W/ and quotes
	SHA256   string // ETag when it is a SHA-256 (Git LFS files), lower case; else ""
	Size     int64  // X-Linked-Size, else Content-Length; -1 when unknown
}

// ErrNotFound matches (with errors.Is) an HTTP 404 from the hub.
var ErrNotFound = errors.New("not found")

// ErrUnauthorized matches (with errors.Is) an HTTP 401 or 403 from the hub.
var ErrUnauthorized = errors.New("unauthorized")

// HTTPError is an unexpected HTTP status from the hub or its CDN.
type HTTPError struct {
	Repo, Revision, File string
	Status               int
	Code                 string // X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, ...)
	Message              string // X-Error-Message
	HadToken             bool
}

func (e *HTTPError) Error() string {
	where := fmt.Sprintf("%s in repo %s at revision %s", e.File, e.Repo, e.Revision)
	var msg string
	switch {
	case e.Status == http.StatusNotFound && e.Code == "RepoNotFound":
		msg = fmt.Sprintf("hub: repo %s not found (HTTP 404, fetching %s at revision %s)", e.Repo, e.File, e.Revision)
	case e.Status == http.StatusNotFound && e.Code == "RevisionNotFound":
		msg = fmt.Sprintf("hub: revision %s not found in repo %s (HTTP 404, fetching %s)", e.Revision, e.Repo, e.File)
	case e.Status == http.StatusNotFound:
		msg = fmt.Sprintf("hub: %s not found in repo %s at revision %s (HTTP 404)", e.File, e.Repo, e.Revision)
	case (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) && e.Code == "GatedRepo":
		msg = fmt.Sprintf("hub: %s: HTTP %d: repo %s is gated: accept its conditions on the hub and set a token (HF_TOKEN)", where, e.Status, e.Repo)
	case (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) && !e.HadToken:
		msg = fmt.Sprintf("hub: %s: HTTP %d: needs a token (HF_TOKEN); the repo may be private, gated or missing", where, e.Status)
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		msg = fmt.Sprintf("hub: %s: HTTP %d: the token (HF_TOKEN) was refused or has no access; the repo may be private, gated or missing", where, e.Status)
	default:
		msg = fmt.Sprintf("hub: %s: HTTP %d %s", where, e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is makes errors.Is(err, ErrNotFound) and errors.Is(err, ErrUnauthorized) work.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	}
	return false
}

// fileMissing reports a 404 about the file itself (not the repo or the revision).
func fileMissing(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.Status == http.StatusNotFound &&
		(he.Code == "" || he.Code == "EntryNotFound")
}

// ChecksumError is a downloaded file whose size or SHA-256 differs from what the hub announced.
// The partial file has been deleted.
type ChecksumError struct {
	File     string
	Kind     string // "sha256" or "size"
	Expected string
	Actual   string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("hub: %s: %s mismatch: expected %s, got %s (partial file deleted)", e.File, e.Kind, e.Expected, e.Actual)
}

// transientError marks a failure worth retrying; progressed says that the try saved new data.
type transientError struct {
	err        error
	progressed bool
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var te *transientError
	if errors.As(err, &te) {
		return true
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status >= 500 || he.Status == http.StatusRequestTimeout || he.Status == http.StatusTooManyRequests
	}
	return false
}

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	commitHex = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

func (c *Client) endpoint() string {
	e := c.Endpoint
	if e == "" {
		e = DefaultEndpoint
	}
	return strings.TrimRight(e, "/")
}

func (c *Client) token() string { return c.Token }

func (c *Client) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

func (c *Client) baseHTTP() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{}
}

// ResolveURL returns {endpoint}/{repo}/resolve/{revision}/{filename}, with the revision escaped
// as one path segment (so "refs/pr/1" works) and each part of the filename escaped.
func (c *Client) ResolveURL(repo, revision, filename string) string {
	if revision == "" {
		revision = DefaultRevision
	}
	return c.endpoint() + "/" + escapeSegments(repo) + "/resolve/" + url.PathEscape(revision) + "/" + escapeSegments(filename)
}

func escapeSegments(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func checkRepo(repo string) error {
	parts := strings.Split(repo, "/")
	if repo == "" || len(parts) > 2 {
		return fmt.Errorf("hub: bad repo id %q (want owner/name)", repo)
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, " \\?#%") {
			return fmt.Errorf("hub: bad repo id %q (want owner/name)", repo)
		}
	}
	return nil
}

// checkFilename rejects names that could escape the destination directory.
func checkFilename(name string) error {
	if name == "" || strings.Contains(name, "\\") || path.IsAbs(name) || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("hub: bad file name %q (want a relative path inside the repo)", name)
	}
	return nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

func (c *Client) newRequest(ctx context.Context, method, u string, endpoint *url.URL) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	// Ask for the stored bytes: sizes and ranges then refer to the file itself.
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "growthtrain-hub/1")
	if t := c.token(); t != "" && sameOrigin(req.URL, endpoint) {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	return req, nil
}

func (c *Client) httpError(resp *http.Response, repo, revision, file string) *HTTPError {
	return &HTTPError{
		Repo: repo, Revision: revision, File: file,
		Status:   resp.StatusCode,
		Code:     resp.Header.Get("X-Error-Code"),
		Message:  resp.Header.Get("X-Error-Message"),
		HadToken: c.token() != "",
	}
}

func normalizeETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

// Stat asks the hub (HEAD on the resolve URL) for a file's commit, ETag and size, retrying on
// transient errors. Redirects within the endpoint's origin are followed until a response carries
// X-Linked-Etag; a redirect elsewhere (the CDN) is not followed, as its response has the metadata.
func (c *Client) Stat(ctx context.Context, repo, revision, filename string) (*FileInfo, error) {
	if revision == "" {
		revision = DefaultRevision
	}
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	if err := checkFilename(filename); err != nil {
		return nil, err
	}
	var info *FileInfo
	err := c.retry(ctx, func() error {
		var err error
		info, err = c.stat(ctx, repo, revision, filename)
		return err
	})
	return info, err
}

func (c *Client) stat(ctx context.Context, repo, revision, filename string) (*FileInfo, error) {
	info := &FileInfo{Repo: repo, Revision: revision, Filename: filename, URL: c.ResolveURL(repo, revision, filename), Size: -1}
	endpoint, err := url.Parse(c.endpoint())
	if err != nil {
		return nil, fmt.Errorf("hub: bad endpoint %q: %w", c.endpoint(), err)
	}
	hc := *c.baseHTTP()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	var linkedETag, linkedSize string
	u := info.URL
	for range maxRedirects {
		req, err := c.newRequest(ctx, http.MethodHead, u, endpoint)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, &transientError{err: fmt.Errorf("hub: HEAD %s: %w", u, err)}
		}
		resp.Body.Close()
		if info.Commit == "" {
			info.Commit = resp.Header.Get("X-Repo-Commit")
		}
		if linkedETag == "" {
			linkedETag = resp.Header.Get("X-Linked-Etag")
		}
		if linkedSize == "" {
			linkedSize = resp.Header.Get("X-Linked-Size")
		}
		loc := resp.Header.Get("Location")
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "":
			target, err := resp.Request.URL.Parse(loc)
			if err != nil {
				return nil, fmt.Errorf("hub: %s: bad redirect %q: %w", filename, loc, err)
			}
			if linkedETag == "" && sameOrigin(target, endpoint) {
				u = target.String()
				continue
			}
			info.ETag = normalizeETag(linkedETag)
			if info.ETag == "" {
				info.ETag = normalizeETag(resp.Header.Get("ETag"))
			}
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			info.ETag = normalizeETag(linkedETag)
			if info.ETag == "" {
				info.ETag = normalizeETag(resp.Header.Get("ETag"))
			}
			if linkedSize == "" && resp.ContentLength >= 0 && resp.Header.Get("Content-Encoding") == "" {
				info.Size = resp.ContentLength
			}
		default:
			return nil, c.httpError(resp, repo, revision, filename)
		}
		if linkedSize != "" {
			n, err := strconv.ParseInt(linkedSize, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("hub: %s: bad X-Linked-Size %q", filename, linkedSize)
			}
			info.Size = n
		}
		if commitHex.MatchString(info.Commit) {
			// Download the very version described here, even if the branch moves on.
			info.URL = c.ResolveURL(repo, info.Commit, filename)
		}
		if e := strings.ToLower(info.ETag); sha256Hex.MatchString(e) {
			info.SHA256 = e
		}
		return info, nil
	}
	return nil, fmt.Errorf("hub: %s: more than %d redirects", filename, maxRedirects)
}

// retry runs f up to c.Tries times while it fails with a transient error, waiting
// RetryDelay, 2×RetryDelay, ... in between. A cancelled ctx stops it at once.
func (c *Client) retry(ctx context.Context, f func() error) error {
	tries := c.Tries
	if tries <= 0 {
		tries = defaultTries
	}
	delay := c.RetryDelay
	if delay <= 0 {
		delay = defaultRetryDelay
	}
	base := delay
	for attempt, total := 1, 1; ; attempt, total = attempt+1, total+1 {
		err := f()
		if err == nil {
			return nil
		}
		var te *transientError
		if errors.As(err, &te) && te.progressed {
			// A try that saved data starts the count afresh (as huggingface_hub does), so a
			// long download survives many short outages; maxTotalTries still bounds it.
			attempt, delay = 0, base
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			if errors.Is(err, ctxErr) {
				return err
			}
			return fmt.Errorf("%w (%w)", err, ctxErr)
		}
		if !retryable(err) || attempt >= tries || total >= maxTotalTries {
			return err
		}
		c.logf("%v; retrying in %v", err, delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-t.C:
		}
		delay *= 2
	}
}
