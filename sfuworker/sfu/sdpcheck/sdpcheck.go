// Package sdpcheck checks session descriptions the way browsers do, and
// stricter than pion does: the SFU worker's offers must be accepted by
// Chrome in every sequence of events a session produces (RFC 8829 JSEP,
// RFC 8843 BUNDLE, RFC 8830 msid). Tests use it on every description the
// worker sends; it is not on the packet or signaling path.
//
// Check looks at one description; Next also compares it with the
// description the peer holds (its current local or remote one), as Chrome
// does before it applies an offer.
package sdpcheck

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Section is what the checks read of one media section.
type Section struct {
	Index int
	Mid   string
	// Kind is the m= line's media: audio, video or application.
	Kind string
	// Rejected: port 0 (a stopped or rejected transceiver).
	Rejected bool
	// Direction is sendrecv, sendonly, recvonly or inactive (sendrecv
	// when the section says nothing, as RFC 8866 defaults).
	Direction string
	// Msids are the a=msid values ("stream track").
	Msids []string
	SSRCs []uint32
	RIDs  []string
}

// Sends reports whether the description's author sends media on the
// section.
func (s Section) Sends() bool {
	return !s.Rejected && (s.Direction == "sendrecv" || s.Direction == "sendonly")
}

// Streams returns the stream ids of the section's msids.
func (s Section) Streams() []string {
	var out []string
	for _, m := range s.Msids {
		stream, _, _ := strings.Cut(m, " ")
		out = append(out, stream)
	}
	return out
}

// Description is a parsed description.
type Description struct {
	Sections []Section
	// Bundles are the a=group:BUNDLE groups, each a list of mids.
	Bundles [][]string
}

// Parse reads a description.
func Parse(text string) (*Description, error) {
	var s sdp.SessionDescription
	if err := s.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("sdpcheck: parse: %w", err)
	}
	d := &Description{}
	sessionDir := direction(s.Attributes, "sendrecv")
	for _, a := range s.Attributes {
		if a.Key == sdp.AttrKeyGroup {
			if f := strings.Fields(a.Value); len(f) > 0 && f[0] == "BUNDLE" {
				d.Bundles = append(d.Bundles, f[1:])
			}
		}
	}
	for i, md := range s.MediaDescriptions {
		sec := Section{Index: i, Kind: md.MediaName.Media, Rejected: md.MediaName.Port.Value == 0,
			Direction: direction(md.Attributes, sessionDir)}
		for _, a := range md.Attributes {
			switch a.Key {
			case sdp.AttrKeyMID:
				sec.Mid = a.Value
			case sdp.AttrKeyMsid:
				sec.Msids = append(sec.Msids, strings.Join(strings.Fields(a.Value), " "))
			case sdp.AttrKeySSRC:
				if f := strings.Fields(a.Value); len(f) > 0 {
					if n, err := strconv.ParseUint(f[0], 10, 32); err == nil && !contains(sec.SSRCs, uint32(n)) {
						sec.SSRCs = append(sec.SSRCs, uint32(n))
					}
				}
			case "rid":
				if f := strings.Fields(a.Value); len(f) > 1 && f[1] == "send" {
					sec.RIDs = append(sec.RIDs, f[0])
				}
			}
		}
		d.Sections = append(d.Sections, sec)
	}
	return d, nil
}

func direction(attrs []sdp.Attribute, def string) string {
	for _, a := range attrs {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return a.Key
		}
	}
	return def
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Check checks one description on its own: every media section has a mid,
// unique; no msid ("stream track", the pair Chrome's "Duplicate a=msid
// lines detected" compares) appears twice among the live media sections;
// no SSRC is on two sections; with BUNDLE,
// one group holds every live section and only those. It returns every
// problem found, joined.
func Check(text string) error {
	d, err := Parse(text)
	if err != nil {
		return err
	}
	return d.Check()
}

// Check is Check on a parsed description.
func (d *Description) Check() error {
	var errs []error
	mids := map[string]int{}
	msids := map[string]string{} // msid -> mid
	ssrcs := map[uint32]string{}
	for _, s := range d.Sections {
		if s.Mid == "" {
			errs = append(errs, fmt.Errorf("media section %d has no mid", s.Index))
		} else if j, dup := mids[s.Mid]; dup {
			errs = append(errs, fmt.Errorf("mid %q on media sections %d and %d", s.Mid, j, s.Index))
		} else {
			mids[s.Mid] = s.Index
		}
		if s.Rejected {
			continue
		}
		seen := map[string]bool{}
		for _, m := range s.Msids {
			if seen[m] {
				errs = append(errs, fmt.Errorf("duplicate a=msid %q within media section %q", m, s.Mid))
				continue
			}
			seen[m] = true
			if other, dup := msids[m]; dup {
				errs = append(errs, fmt.Errorf("duplicate a=msid %q on media sections %q and %q", m, other, s.Mid))
				continue
			}
			msids[m] = s.Mid
		}
		for _, n := range s.SSRCs {
			if other, dup := ssrcs[n]; dup {
				errs = append(errs, fmt.Errorf("ssrc %d on media sections %q and %q", n, other, s.Mid))
			}
			ssrcs[n] = s.Mid
		}
	}
	errs = append(errs, d.checkBundle()...)
	return errors.Join(errs...)
}

// checkBundle: max-bundle, as the worker and browsers use it.
func (d *Description) checkBundle() []error {
	live := 0
	for _, s := range d.Sections {
		if !s.Rejected {
			live++
		}
	}
	if len(d.Bundles) == 0 {
		if live > 1 {
			return []error{fmt.Errorf("%d live media sections and no BUNDLE group", live)}
		}
		return nil
	}
	var errs []error
	if len(d.Bundles) > 1 {
		errs = append(errs, fmt.Errorf("%d BUNDLE groups, want one", len(d.Bundles)))
	}
	in := map[string]bool{}
	for _, g := range d.Bundles {
		for _, mid := range g {
			if in[mid] {
				errs = append(errs, fmt.Errorf("mid %q twice in BUNDLE", mid))
			}
			in[mid] = true
		}
	}
	byMid := map[string]Section{}
	for _, s := range d.Sections {
		byMid[s.Mid] = s
		if !s.Rejected && !in[s.Mid] {
			errs = append(errs, fmt.Errorf("live media section %q is not in the BUNDLE group", s.Mid))
		}
	}
	for mid := range in {
		s, ok := byMid[mid]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("BUNDLE names mid %q that no media section has", mid))
		case s.Rejected:
			errs = append(errs, fmt.Errorf("BUNDLE names rejected media section %q", mid))
		}
	}
	return errs
}

// Next checks next on its own (Check) and against prev, the description
// the receiving peer holds (its current local description, or the last
// remote one): no media section is dropped, and each keeps its place, its
// kind and its mid, except that an offer may recycle a rejected section
// under a new mid (JSEP 5.2.2; Chrome's "The order of m-lines in
// subsequent offer doesn't match order from previous offer/answer"). An
// empty prev checks next alone.
func Next(prev, next string, offer bool) error {
	n, err := Parse(next)
	if err != nil {
		return err
	}
	errs := []error{n.Check()}
	if prev != "" {
		p, err := Parse(prev)
		if err != nil {
			return fmt.Errorf("sdpcheck: previous description: %w", err)
		}
		errs = append(errs, order(p, n, offer)...)
	}
	return errors.Join(errs...)
}

func order(p, n *Description, offer bool) []error {
	var errs []error
	if len(n.Sections) < len(p.Sections) {
		errs = append(errs, fmt.Errorf("%d media sections, fewer than the %d before", len(n.Sections), len(p.Sections)))
	}
	for i := 0; i < len(p.Sections) && i < len(n.Sections); i++ {
		a, b := p.Sections[i], n.Sections[i]
		if a.Mid == b.Mid && a.Kind == b.Kind {
			continue
		}
		if offer && a.Rejected {
			continue // A recycled media section.
		}
		errs = append(errs, fmt.Errorf("media section %d was %s %q, now %s %q", i, a.Kind, a.Mid, b.Kind, b.Mid))
	}
	return errs
}
