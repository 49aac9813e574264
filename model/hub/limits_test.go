package hub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBodyLongerThanAnnounced: a server that sends more than it announced (here an endless
// chunked body, so neither Go's HTTP client nor a Content-Length check stops it) must not fill
// the disk: the download stops at the announced size with an error.
func TestBodyLongerThanAnnounced(t *testing.T) {
	const endless = 256 << 20 // the handler gives up here; a client that stops reads far less
	cases := []struct {
		name     string
		announce string // X-Linked-Size on HEAD; "" announces nothing
		limit    int64  // Client.MaxUnannouncedSize
		want     string
	}{
		{"announced size", "100", 0, "expected 100 bytes, got more than 100 bytes"},
		{"no size announced", "", 1000, "more than the 1000-byte limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sent atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Repo-Commit", testCommit)
				w.Header().Set("ETag", `"`+gitBlobSHA1([]byte("x"))+`"`)
				if c.announce != "" {
					w.Header().Set("X-Linked-Size", c.announce)
				}
				if r.Method != http.MethodGet {
					return
				}
				chunk := []byte(strings.Repeat("x", 32<<10))
				for sent.Load() < endless {
					if _, err := w.Write(chunk); err != nil {
						return
					}
					w.(http.Flusher).Flush()
					sent.Add(int64(len(chunk)))
				}
			}))
			defer srv.Close()
			cl := &Client{Endpoint: srv.URL, RetryDelay: time.Millisecond, MaxUnannouncedSize: c.limit}
			dir := t.TempDir()
			_, err := cl.Download(context.Background(), testRepo, "main", "config.json", dir)
			var ce *ChecksumError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "config.json") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a size error naming config.json and saying %q", err, c.want)
			}
			if n := sent.Load(); n >= endless/2 {
				t.Errorf("the client read %d bytes of the endless body", n)
			}
			noPartFiles(t, dir)
		})
	}
}
