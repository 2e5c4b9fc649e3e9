package datasets

import (
	"fmt"
	"strings"
)

// FetchError is Fetch's answer when a file is neither already here nor
// downloaded: it says where the file was looked for and why the download
// failed (or could not start), so that an offline machine reports that, not
// a side effect of it. Loaders wrap it with their own advice (another copy,
// the variable naming archive folders); errors.As finds it.
type FetchError struct {
	Name   string   // the file's name
	Looked []string // the folders searched, in order
	URL    string   // where the download was tried; "" when it was not
	Part   string   // a partial download kept for resuming; "" when none
	Err    error    // why it could not be downloaded
}

func (e *FetchError) Error() string {
	where := "no folder (no archive folder is set and there is no data cache)"
	if len(e.Looked) > 0 {
		where = strings.Join(e.Looked, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "datasets: %s was not found (looked in %s)", e.Name, where)
	if e.URL != "" {
		fmt.Fprintf(&b, " and downloading it from %s failed: %v", e.URL, e.Err)
	} else {
		fmt.Fprintf(&b, " and it cannot be downloaded: %v", e.Err)
	}
	if e.Part != "" {
		fmt.Fprintf(&b, " (the partial download %s is kept: run again to resume)", e.Part)
	}
	return b.String()
}

func (e *FetchError) Unwrap() error { return e.Err }
