// Command sim runs capacity simulations of Greenroom (package simulate)
// and prices them (internal/cost): `make sim` runs every scenario.
//
//	go run ./infra/sim -scenario infra/sim/scenarios/rush-10k.json -prices us-east-1
//	go run ./infra/sim -all infra/sim/scenarios
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/greenroom-live/greenroom/infra/sim/internal/cost"
	"github.com/greenroom-live/greenroom/infra/sim/simulate"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		slog.Error("sim", "err", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	scenario := fs.String("scenario", "", "a scenario file (infra/sim/scenarios/*.json)")
	all := fs.String("all", "", "run every scenario file in this directory")
	region := fs.String("prices", "us-east-1", "the region whose prices to use (infra/sim/prices/<region>.json)")
	dir := fs.String("dir", "infra/sim", "the directory of figures.json and prices/")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the runs to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var files []string
	switch {
	case *scenario != "":
		files = []string{*scenario}
	case *all != "":
		m, err := filepath.Glob(filepath.Join(*all, "*.json"))
		if err != nil {
			return err
		}
		files = m
	default:
		return errors.New("sim: -scenario or -all is required")
	}
	figs, err := simulate.LoadFigures(filepath.Join(*dir, "figures.json"))
	if err != nil {
		return err
	}
	prices, err := cost.Load(filepath.Join(*dir, "prices", *region+".json"))
	if err != nil {
		return err
	}
	if *profile != "" {
		pf, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, f := range files {
		sc, err := simulate.LoadScenario(f)
		if err != nil {
			return err
		}
		began := time.Now()
		r, err := simulate.Run(sc, figs)
		if err != nil {
			return err
		}
		simulate.Report(out, r, prices)
		fmt.Fprintf(out, "(simulated in %.1f s)\n\n", time.Since(began).Seconds())
	}
	return nil
}
