package kernels

// splitUnits splits [0, n) into at most workers ranges of whole units (the
// last unit may be short) and runs body(worker, lo, hi) on each, concurrently
// through runWorkers. The split depends only on n, unit and workers, so
// results summed per range are repeatable.
func splitUnits(n, unit, workers int, body func(w, lo, hi int)) {
	units := (n + unit - 1) / unit
	workers = max(1, min(workers, units))
	per := (units + workers - 1) / workers * unit
	runWorkers(workers, func(w int) { body(w, min(n, w*per), min(n, (w+1)*per)) })
}
