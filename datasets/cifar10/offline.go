package cifar10

import (
	"fmt"
	"strings"

	"github.com/mlsysrep/mlsysrep/datasets"
)

// offlineHint adds to the failure to find or download the official archive
// what a machine without internet can do instead: the archive or the JPEG mirror in a folder named
// by $MLSYSREP_ARCHIVES (or the -archives flag).
func offlineHint(err error, asked Copy) error {
	mirrorUse := "the auto copy uses it when the official archive is absent"
	if asked == OfficialCopy {
		mirrorUse = "this run asked for the official copy: choose the jpeg-mirror copy to use it"
	}
	return fmt.Errorf("cifar10: no copy of CIFAR-10 is available: %w. To work offline, point %s (or -archives) at a folder holding %s, "+
		"or holding the JPEG mirror %s (%s)", err, datasets.EnvArchives, Official.Name, Mirror, mirrorUse)
}

// lookedIn lists folders for a message.
func lookedIn(dirs []string) string {
	if len(dirs) == 0 {
		return "no folder: neither -archives nor " + datasets.EnvArchives + " names one"
	}
	return strings.Join(dirs, ", ")
}
