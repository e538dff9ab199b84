package domain

import "time"

// Rate is a rate limit in the form of a token bucket kept as one time
// (the generic cell rate algorithm): bursts of up to Burst uses, then one
// use every Every. In any window of length w at most Burst + w/Every uses
// pass, so no burst, however it straddles a boundary, passes more than
// that.
type Rate struct {
	Burst int
	Every time.Duration
}

// Take decides one use at now of a limiter whose theoretical arrival time
// is tat (zero for a limiter never used). When the use is allowed it
// returns the limiter's next tat; otherwise ok is false and retryAfter is
// how long until a use is allowed again.
func (r Rate) Take(tat, now time.Time) (next time.Time, ok bool, retryAfter time.Duration) {
	if tat.Before(now) {
		tat = now
	}
	tolerance := time.Duration(max(r.Burst-1, 0)) * r.Every
	if ahead := tat.Sub(now); ahead > tolerance {
		return time.Time{}, false, ahead - tolerance
	}
	return tat.Add(r.Every), true, 0
}

// Window is how many uses the rate lets through in any window of length
// w at most.
func (r Rate) Window(w time.Duration) int {
	if r.Every <= 0 {
		return r.Burst
	}
	return r.Burst + int(w/r.Every)
}
