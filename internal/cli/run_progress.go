package cli

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/rolehop/rolehop/fanout"
)

// progressBar is `rolehop run`'s progress bar on a terminal (stderr), drawn
// by mpb: targets done of total, percentage, running and failed counts,
// elapsed time and an ETA. Lines written to it are printed above the bar.
type progressBar struct {
	p               *mpb.Progress
	bar             *mpb.Bar
	running, failed atomic.Int64
}

func newProgressBar(w io.Writer, total int, now func() time.Time) *progressBar {
	pb := &progressBar{}
	pb.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(100), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())
	pb.bar = pb.p.New(int64(total), mpb.BarStyle().Lbound("[").Rbound("]"),
		mpb.PrependDecorators(
			decor.Name("run "),
			decor.CountersNoUnit("%d/%d", decor.WCSyncWidth),
		),
		mpb.AppendDecorators(
			decor.Percentage(decor.WC{W: 5}),
			decor.Any(func(decor.Statistics) string {
				return fmt.Sprintf(" %d running %d failed", pb.running.Load(), pb.failed.Load())
			}),
			decor.Name(" ETA "),
			decor.NewAverageETA(decor.ET_STYLE_GO, now(), nil),
		),
	)
	return pb
}

func (pb *progressBar) Write(b []byte) (int, error) { return pb.p.Write(b) }

func (pb *progressBar) started() { pb.running.Add(1) }

func (pb *progressBar) done(st fanout.Status) {
	if st != fanout.Skipped {
		pb.running.Add(-1)
	}
	if st.Failure() {
		pb.failed.Add(1)
	}
	pb.bar.Increment()
}

// finish draws the last state and stops the bar.
func (pb *progressBar) finish() {
	if !pb.bar.Completed() {
		pb.bar.Abort(false)
	}
	pb.p.Wait()
}
