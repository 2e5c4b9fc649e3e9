// Package hoststat reads the host's CPU accounting, so that a speed figure
// can say how much of the machine it actually had.
//
// On a virtual machine the hypervisor may run other guests on our CPUs; the
// time it takes ("steal") does not show as load inside the guest, yet a
// training epoch slows by about as much. Without this, such an epoch looks
// like a slowdown of the program.
package hoststat
