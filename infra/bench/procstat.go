package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Greenroom runs on.
const clockTicks = 100

// runProcstat measures another process, an SFU under load from a
// separate load generator (docs/sfu.md, "Greenroom against LiveKit"):
// its CPU time (utime + stime) over a window after a wait, and its peak
// and current resident set. It prints the window's start and end as Unix
// milliseconds, so that a packet count taken elsewhere can be matched to
// the same window.
func runProcstat(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("procstat", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "the process to measure")
	wait := fs.Duration("wait", 10*time.Second, "time before the window (warm-up)")
	window := fs.Duration("window", 20*time.Second, "the measuring window")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pid <= 0 {
		return errors.New("-pid is required")
	}
	sleep := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := sleep(*wait); err != nil {
		return err
	}
	cpu0, err := readCPU(*pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := sleep(*window); err != nil {
		return err
	}
	cpu1, err := readCPU(*pid)
	if err != nil {
		return err
	}
	t1 := time.Now()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", *pid))
	if err != nil {
		return err
	}
	hwm, rss := statusKB(string(st), "VmHWM:"), statusKB(string(st), "VmRSS:")
	cpu := (cpu1 - cpu0).Seconds()
	fmt.Fprintf(out, "procstat pid=%d start_ms=%d end_ms=%d cpu_s=%.3f cpu_s_per_s=%.4f peak_rss_mib=%.1f rss_mib=%.1f\n",
		*pid, t0.UnixMilli(), t1.UnixMilli(), cpu, cpu/t1.Sub(t0).Seconds(), float64(hwm)/1024, float64(rss)/1024)
	return nil
}

// readCPU is a process's user plus system CPU time so far.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from the text of
// /proc/<pid>/stat. The command name, field 2, is in parentheses and may
// itself hold spaces and parentheses, so fields are counted from the
// last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("procstat: no command name in stat")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("procstat: short stat")
	}
	var ticks int64
	for _, s := range f[11:13] { // Fields 14 and 15; f[0] is field 3.
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procstat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// statusKB is one kB field of /proc/<pid>/status, or 0.
func statusKB(status, field string) int64 {
	for _, l := range strings.Split(status, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
