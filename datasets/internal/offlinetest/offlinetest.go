// Package offlinetest helps the dataset packages' tests play a machine
// without internet: a download URL that refuses connections at once, and the
// check of what an offline error must say.
package offlinetest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Unreachable is the URL of a closed local server: connections are refused
// at once, as on a machine without internet.
func Unreachable(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// CheckMessage fails t unless the error message msg says each of wants, and
// when it names a partial download (".part"): none exists when the
// connection never opened, and naming one sends the user looking for it.
// what prefixes the failures ("copy auto", "").
func CheckMessage(t testing.TB, what, msg string, wants ...string) {
	t.Helper()
	var missing []string
	for _, want := range wants {
		if !strings.Contains(msg, want) {
			missing = append(missing, want)
		}
	}
	if missing != nil {
		t.Errorf("%serror %q does not say %q", what, msg, missing)
	}
	if strings.Contains(msg, ".part") {
		t.Errorf("%serror %q names a partial download that does not exist", what, msg)
	}
}
