package notebook

import (
	"bytes"
	"fmt"
	"html"
	"os"
	"regexp"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
)

// stepLine matches the training loop's per-step progress lines, which a
// notebook shows in one updating line instead of hundreds.
var stepLine = regexp.MustCompile(`^epoch \d+/\d+ step \d+/\d+ `)

// Progress is an io.Writer for the recipes' progress output: in a notebook
// the per-step lines (loss, images/s, ETA) update a single line in place and
// everything else (epoch summaries, cell results) is printed; outside a
// notebook every line is printed.
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

func (p *Progress) line(line string) {
	if inNotebook() && stepLine.MatchString(line) {
		gonbui.UpdateHTML(p.id, `<pre style="margin:0">`+html.EscapeString(line)+`</pre>`)
		p.shown = true
		return
	}
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
