package main

import (
	"io"
	"slices"
	"testing"
)

func TestFit(t *testing.T) {
	xs := []float64{60, 120, 180, 240, 300, 360, 420}
	tests := []struct {
		name string
		ys   []float64
		flat bool
	}{
		// Start-up growth before the warm-up does not count.
		{"levels off after the warm-up", []float64{10, 30, 40, 40.5, 40, 40.4, 40.2}, true},
		{"grows steadily", []float64{10, 20, 30, 40, 50, 60, 70}, false},
		{"noise within the limit", []float64{40, 43, 40, 43, 40, 43, 40}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := fit(xs, tt.ys, 150, 4, 0.05)
			if tr.Flat != tt.flat {
				t.Fatalf("flat = %v, want %v (%+v)", tr.Flat, tt.flat, tr)
			}
			if tr.Points != 5 || tr.First != tt.ys[0] || tr.Last != tt.ys[len(tt.ys)-1] {
				t.Fatalf("trend %+v: want 5 points after the warm-up and the series' ends", tr)
			}
		})
	}
	// Too short for the warm-up: the last half, with a note.
	if tr := fit(xs[:4], []float64{1, 2, 3, 4}, 1000, 4, 0); tr.Points != 2 || tr.Note == "" {
		t.Fatalf("short run: %+v, want the last 2 points and a note", tr)
	}
}

func TestIntList(t *testing.T) {
	var l intList
	if err := l.Set("10, 1k,10000"); err != nil || !slices.Equal(l, intList{10, 1000, 10000}) {
		t.Fatalf("Set: %v %v", l, err)
	}
	for _, bad := range []string{"", "0", "-1", "ten", "1,,2"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestQuickKeepsExplicitFlags(t *testing.T) {
	o, err := parseOptions([]string{"-quick", "-roles", "5,50"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.roles, intList{5, 50}) || o.leases != 1000 || o.rounds != 1 {
		t.Fatalf("roles %v leases %d rounds %d: want the explicit roles and the quick rest", o.roles, o.leases, o.rounds)
	}
	if _, err := parseOptions([]string{"-axes", "roles,nope"}, io.Discard); err == nil {
		t.Fatal("unknown axis accepted")
	}
}
