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
	return NewUnits(total, desc, "step")
}

// NewUnits returns a bar for total units (the singular name: "step", "window") labelled desc,
// with the count, the rate in units per second and the elapsed and remaining time.
func NewUnits(total int, desc, unit string) *progressbar.ProgressBar {
	return NewTo(os.Stderr, term.IsTerminal(int(os.Stderr.Fd())), total, desc, unit)
}

// NewTo returns a bar counting units, drawn on w when visible is set (tests pass a buffer).
func NewTo(w io.Writer, visible bool, total int, desc, unit string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total, append(common(w, visible, desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true))...)
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
