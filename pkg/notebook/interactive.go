package notebook

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/dom"
	"github.com/janpfeifer/gonb/gonbui/widgets"
)

// widgetSeconds is how long Slider listens: $MLSYSREP_WIDGET_SECONDS, else
// 300 s in a notebook; 0 outside one.
func widgetSeconds() time.Duration {
	if !inNotebook() {
		return 0
	}
	if s, err := strconv.ParseFloat(os.Getenv(WidgetSecondsVar), 64); err == nil {
		return time.Duration(s * float64(time.Second))
	}
	return 300 * time.Second
}

// Slider shows render(value) and, in a live notebook, a slider from min to
// max that re-renders it as it moves, for $MLSYSREP_WIDGET_SECONDS (default
// 300 s; headless runs set 0). When the time is up, or with no live front
// end, the last rendering stays in the cell's output as a static result, so
// the notebook reads the same when exported.
func Slider(label string, min, max, value int, render func(v int) (string, error)) error {
	h, err := render(value)
	if err != nil {
		return err
	}
	wait := widgetSeconds()
	if wait <= 0 {
		ShowHTML(fmt.Sprintf("<p style=\"font-family:sans-serif;font-size:12px\">%s = %d (static: set %s > 0 in a live notebook for a slider)</p>%s",
			label, value, WidgetSecondsVar, h))
		return nil
	}
	div := dom.CreateTransientDiv()
	dom.Append(div, fmt.Sprintf(`<span style="font-family:sans-serif">%s&nbsp;</span>`, label))
	slider := widgets.Slider(min, max, value).AppendTo(div).Done()
	valueID := "mlsysrep-slider-value-" + gonbui.UniqueId()
	dom.Append(div, fmt.Sprintf(`&nbsp;<b id="%s">%d</b> <span style="font-size:11px;color:#666">(live for %s)</span>`, valueID, value, wait))
	plotID := "mlsysrep-slider-plot-" + gonbui.UniqueId()
	gonbui.UpdateHTML(plotID, h)
	updates := slider.Listen().LatestOnly()
	deadline := time.After(wait)
	for done := false; !done; {
		select {
		case v := <-updates.C:
			if h2, err := render(v); err == nil {
				h, value = h2, v
				dom.SetInnerText(valueID, strconv.Itoa(v))
				gonbui.UpdateHTML(plotID, h)
			}
		case <-deadline:
			done = true
		}
	}
	// Replace the live parts with a static copy that is saved with the notebook.
	gonbui.UpdateHTML(plotID, "")
	ShowHTML(fmt.Sprintf("<p style=\"font-family:sans-serif;font-size:12px\">%s = %d</p>%s", label, value, h))
	return nil
}
