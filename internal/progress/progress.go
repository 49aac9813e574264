// Package progress makes the progress bars of growthtrain's long-running commands: drawn on
// stderr at most a few times a second, and only when stderr is a terminal (logs and CI output
// stay clean; the commands print their own summaries).
package progress

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// New returns a bar for total steps labelled desc.
func New(total int, desc string) *progressbar.ProgressBar {
	return NewTo(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())), total, desc)
}

// NewTo returns a bar counting steps, drawn on w when visible is set (tests pass a buffer).
func NewTo(w io.Writer, visible bool, total int, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total, append(common(w, visible, desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("step"))...)
}

// NewBytesTo returns a bar counting bytes (sizes and rates in B, kB, MB), drawn on w when
// visible is set.
func NewBytesTo(w io.Writer, visible bool, total int64, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total, append(common(w, visible, desc),
		progressbar.OptionShowBytes(true))...)
}

func common(w io.Writer, visible bool, desc string) []progressbar.Option {
	return []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(150 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
	}
}
