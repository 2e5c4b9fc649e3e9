package hoststat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// CPUTimes is the machine-wide CPU time, in clock ticks, since boot, from the
// first line of Linux's /proc/stat.
type CPUTimes struct {
	Busy  uint64 // user, nice, system, irq and softirq time
	Idle  uint64 // idle and iowait time
	Steal uint64 // time the hypervisor gave our virtual CPUs to someone else
}

// ErrUnavailable is returned where the host has no /proc/stat (not Linux).
var ErrUnavailable = errors.New("hoststat: CPU accounting unavailable on this host")

// ReadCPU returns the machine's CPU times now.
func ReadCPU() (CPUTimes, error) {
	f, err := os.Open("/proc/stat")
	if errors.Is(err, os.ErrNotExist) {
		return CPUTimes{}, ErrUnavailable
	}
	if err != nil {
		return CPUTimes{}, err
	}
	defer f.Close()
	return ParseProcStat(f)
}

// ParseProcStat reads the aggregate "cpu" line of /proc/stat's format:
//
//	cpu  user nice system idle iowait irq softirq steal [guest guest_nice]
//
// Older kernels end the line before steal; their steal is 0. Guest time is
// already counted in user and nice, so it is left out.
func ParseProcStat(r io.Reader) (CPUTimes, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && line == "" {
		return CPUTimes{}, fmt.Errorf("hoststat: reading /proc/stat: %w", err)
	}
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return CPUTimes{}, fmt.Errorf("hoststat: /proc/stat does not start with an aggregate cpu line: %q", strings.TrimSpace(line))
	}
	var v [8]uint64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if 1+i >= len(fields) {
			break
		}
		n, err := strconv.ParseUint(fields[1+i], 10, 64)
		if err != nil {
			return CPUTimes{}, fmt.Errorf("hoststat: /proc/stat cpu field %d: %w", i+1, err)
		}
		v[i] = n
	}
	return CPUTimes{Busy: v[0] + v[1] + v[2] + v[5] + v[6], Idle: v[3] + v[4], Steal: v[7]}, nil
}

// StealSince is the fraction of the machine's CPU time between then and t
// that the hypervisor took (0 to 1); 0 when no time passed or a counter went
// backwards (a different boot).
func (t CPUTimes) StealSince(then CPUTimes) float64 {
	if t.Busy < then.Busy || t.Idle < then.Idle || t.Steal < then.Steal {
		return 0
	}
	total := (t.Busy - then.Busy) + (t.Idle - then.Idle) + (t.Steal - then.Steal)
	if total == 0 {
		return 0
	}
	return float64(t.Steal-then.Steal) / float64(total)
}

// StealMeter measures the steal over an interval; its zero value measures
// nothing (on a host without CPU accounting every method is a no-op).
type StealMeter struct {
	start CPUTimes
	ok    bool
}

// Start begins an interval.
func (m *StealMeter) Start() {
	t, err := ReadCPU()
	m.start, m.ok = t, err == nil
}

// Fraction is the steal since Start (0 to 1), and false where it could not
// be measured.
func (m *StealMeter) Fraction() (float64, bool) {
	if !m.ok {
		return 0, false
	}
	now, err := ReadCPU()
	if err != nil {
		return 0, false
	}
	return now.StealSince(m.start), true
}
