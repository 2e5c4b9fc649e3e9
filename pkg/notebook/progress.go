package notebook

import (
	"bytes"
	"fmt"
	"html"
	"os"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/mlsysrep/mlsysrep/pkg/train"
)

// Progress shows a run's progress: its Event method takes the training
// loop's reports, and in a notebook the step reports (loss, images/s, ETA)
// update a single line in place instead of filling hundreds; everything else
// (epoch summaries, and the lines the recipes write to it as an io.Writer:
// which cell, reuse, results) is printed. Outside a notebook every report
// is printed as its line.
type Progress struct {
	mu      sync.Mutex
	partial []byte
	id      string
	shown   bool
}

// NewProgress returns a progress writer.
func NewProgress() *Progress {
	return &Progress{id: "mlsysrep-progress-" + gonbui.UniqueId()}
}

// Write implements io.Writer.
func (p *Progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		p.line(line)
	}
}

// Event shows one report of the training loop (give it as the run's
// Events).
func (p *Progress) Event(e train.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Kind == train.StepDone && inNotebook() {
		gonbui.UpdateHTML(p.id, `<pre style="margin:0">`+html.EscapeString(e.Line())+`</pre>`)
		p.shown = true
		return
	}
	p.line(e.Line())
}

func (p *Progress) line(line string) {
	fmt.Fprintln(os.Stdout, line)
}

// Close flushes a last partial line and clears the in-place line.
func (p *Progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.partial) > 0 {
		p.line(string(p.partial))
		p.partial = nil
	}
	if p.shown {
		gonbui.UpdateHTML(p.id, "")
	}
}
