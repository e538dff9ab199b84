package storetest_test

import (
	"path/filepath"
	"testing"

	"github.com/greenroom-live/greenroom/shared/store/boltstore"
	"github.com/greenroom-live/greenroom/shared/store/storetest"
)

func TestMeasureContention(t *testing.T) {
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "greenroom.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })

	tests := []struct {
		name                     string
		users, capacity, workers int
		wantRegistered, wantFull int
		wantErr                  bool
	}{
		{name: "Contended", users: 120, capacity: 50, workers: 8, wantRegistered: 50, wantFull: 70},
		{name: "RoomForAll", users: 10, capacity: 50, workers: 4, wantRegistered: 10},
		{name: "MoreWorkersThanUsers", users: 3, capacity: 1, workers: 10, wantRegistered: 1, wantFull: 2},
		{name: "NoUsers", users: 0, capacity: 1, workers: 1, wantErr: true},
		{name: "NoWorkers", users: 1, capacity: 1, workers: 0, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := storetest.MeasureContention(t.Context(), db, tt.users, tt.capacity, tt.workers)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("MeasureContention = %v, want an error", res)
				}
				return
			}
			if err != nil {
				t.Fatalf("MeasureContention: %v", err)
			}
			if res.Attempts != tt.users || res.Registered != tt.wantRegistered || res.Full != tt.wantFull {
				t.Fatalf("MeasureContention = %v, want %d attempts, %d registered, %d full",
					res, tt.users, tt.wantRegistered, tt.wantFull)
			}
			if res.PerSecond <= 0 || res.P50 <= 0 || res.P99 < res.P50 || res.Elapsed <= 0 {
				t.Fatalf("MeasureContention figures are inconsistent: %v", res)
			}
		})
	}
}
