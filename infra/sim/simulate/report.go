package simulate

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/greenroom-live/greenroom/infra/sim/internal/cost"
)

// Report prints r, and its bill at prices p, as plain-text tables.
func Report(w io.Writer, r Result, p cost.Prices) {
	fmt.Fprintf(w, "== %s: %s\n", r.Scenario, r.Description)
	fmt.Fprintf(w, "%d sessions, %d members, %d cell(s), %d minutes; a worker takes %d members (%.4f vCPU each at the measured CPU per packet)\n\n",
		r.Sessions, r.Members, r.Cells, r.Minutes, r.Capacity, r.CPUPerMember)

	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "DynamoDB partitions, hottest by peak WCU/s (limit %.0f WCU, %.0f RCU per partition; %d over WCU, %d over RCU)\n",
		r.Limits.PartitionWCU, r.Limits.PartitionRCU, r.OverWCU, r.OverRCU)
	fmt.Fprintln(tw, "cell\tpartition\tpeak WCU/s\tat s\tpeak RCU/s\tat s\t\t")
	for _, pp := range r.HottestWCU {
		partRow(tw, pp)
	}
	tw.Flush()
	fmt.Fprintln(w, "hottest by peak RCU/s")
	fmt.Fprintln(tw, "cell\tpartition\tpeak WCU/s\tat s\tpeak RCU/s\tat s\t\t")
	for _, pp := range r.HottestRCU {
		partRow(tw, pp)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nAPI Gateway and Lambda, per cell (limits: %.0f new connections/s, %.0f requests/s account throttle, %.0f concurrent Lambdas)\n",
		r.Limits.NewConnections, r.Limits.AccountRPS, r.Limits.LambdaConcurrency)
	fmt.Fprintln(tw, "cell\tarrivals/s\tconnects/s\tlongest queue\tqueued for s\tmax wait s\tmessages/s\tposts/s\tRPS\tinvocations/s\tconcurrency\ttable WCU/s\ttable RCU/s\t")
	for _, c := range r.Cell {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%d\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", c.Cell, c.PeakArrivals, c.PeakConnects,
			c.LongestQueue, c.QueueSeconds, c.MaxWait, c.PeakMessages, c.PeakPosts, c.PeakRPS, c.PeakInvocations, c.PeakConcurrency, c.PeakWCU, c.PeakRCU)
	}
	tw.Flush()
	for _, c := range r.Cell {
		var notes []string
		if c.PeakRPS > r.Limits.AccountRPS {
			notes = append(notes, fmt.Sprintf("requests %.0f/s exceed the account throttle of %.0f/s: raise the quota or add cells", c.PeakRPS, r.Limits.AccountRPS))
		}
		if c.PeakConcurrency > r.Limits.LambdaConcurrency {
			notes = append(notes, fmt.Sprintf("Lambda concurrency %.0f exceeds %.0f", c.PeakConcurrency, r.Limits.LambdaConcurrency))
		}
		if c.QueueSeconds > 60 {
			notes = append(notes, fmt.Sprintf("the rush queue lasts %d s (over 60 s)", c.QueueSeconds))
		}
		if c.Unplaced > 0 || c.MediaFailed > 0 {
			notes = append(notes, fmt.Sprintf("%d joins found no worker with room, %d reached a dead worker", c.Unplaced, c.MediaFailed))
		}
		for _, n := range notes {
			fmt.Fprintf(w, "  cell %d: %s\n", c.Cell, n)
		}
	}

	fmt.Fprintln(w, "\nSFU workers (cell 0), every 5 minutes")
	fmt.Fprintln(tw, "minute\trunning\tready\tmembers\tutilization %\tCPU %\tmax CPU %\t")
	if len(r.Cell) > 0 {
		for _, p := range r.Cell[0].Workers {
			if p.Minute%5 == 0 {
				fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f\t\n", p.Minute, p.Running, p.Ready, p.Members, p.Util, p.CPU, p.MaxCPU)
			}
		}
	}
	tw.Flush()
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "\nFailures")
		fmt.Fprintln(tw, "cell\tminute\tkind\tkilled\tof\trooms\tmembers moved\trooms moved\tto workers\tmost rooms to one\tmedia back (median)\tmedia back (last)\t")
		for _, f := range r.Failures {
			fmt.Fprintf(tw, "%d\t%.0f\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", f.Cell, f.Minute, f.Kind, f.Killed, f.Alive, f.Sessions,
				f.MembersMoved, f.Moved, f.Targets, f.MostRooms, f.BackMedian, f.BackLast)
		}
		tw.Flush()
	}
	ReportCost(w, r, p)
}

func partRow(tw io.Writer, pp PartitionPeak) {
	kind := "table"
	if pp.Index {
		kind = "GSI1"
	}
	note := kind
	if pp.Figure != "" {
		note += ": " + pp.Figure
	}
	fmt.Fprintf(tw, "%d\t%s\t%.1f\t%d\t%.1f\t%d\t%s\t\n", pp.Cell, pp.Key, pp.PeakW, pp.AtW, pp.PeakR, pp.AtR, note)
}

// ReportCost prints the bill of r at prices p beside Chime SDK and IVS
// Real-Time.
func ReportCost(w io.Writer, r Result, p cost.Prices) {
	b := cost.Calculate(r.Usage, p)
	fmt.Fprintf(w, "\nCost at %s list prices (%s): %.0f attendee-hours, %.1f session-hours\n", p.Region, p.Date, b.AttendeeHours, b.SessionHours)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "item\tUSD\tper attendee-hour\tper session-hour\t")
	for _, l := range b.Lines {
		if l.USD == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.5f\t%.4f\t\n", l.Item, l.USD, l.USD/b.AttendeeHours, l.USD/b.SessionHours)
	}
	fmt.Fprintf(tw, "Greenroom total\t%.2f\t%.5f\t%.4f\t\n", b.Total, b.PerAttendeeHour(), b.PerSessionHour())
	fmt.Fprintf(tw, "Amazon Chime SDK\t%.2f\t%.5f\t%.4f\t\n", b.Chime, b.Chime/b.AttendeeHours, b.Chime/b.SessionHours)
	fmt.Fprintf(tw, "Amazon IVS Real-Time\t%.2f\t%.5f\t%.4f\t\n", b.IVS, b.IVS/b.AttendeeHours, b.IVS/b.SessionHours)
	tw.Flush()
	fmt.Fprintf(w, "Chime SDK / Greenroom = %.1fx, IVS Real-Time / Greenroom = %.1fx\n", b.ChimeRatio(), b.IVSRatio())
	fmt.Fprintln(w, strings.Repeat("-", 72))
}
