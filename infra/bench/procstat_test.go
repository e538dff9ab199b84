package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis, utime 1234 and stime
	// 66 ticks.
	stat := "4242 (sfu (test) x) S 1 4242 4242 0 -1 4194560 9 0 0 0 1234 66 0 0 20 0 7 0 100 1000 200 18446744073709551615\n"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 13 * time.Second; got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := parseStatCPU("4242 (x) S 1"); err == nil {
		t.Fatal("a short stat parsed")
	}
}

func TestStatusKB(t *testing.T) {
	s := "Name:\tx\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"
	if got := statusKB(s, "VmHWM:"); got != 204800 {
		t.Fatalf("VmHWM %d", got)
	}
	if got := statusKB(s, "VmSwap:"); got != 0 {
		t.Fatalf("VmSwap %d", got)
	}
}

func TestReadCPUSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := readCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
