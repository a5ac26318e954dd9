package models_test

import (
	"context"
	"testing"

	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

func TestProcessesAreRecorded(t *testing.T) {
	store := dbtest.New(t)
	ctx := context.Background()
	p := &models.Process{ID: "host-1", Host: "host", PID: 4242, Role: "worker"}
	if err := store.RegisterProcess(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := store.BeatProcess(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	got, err := store.RecentProcesses(ctx)
	if err != nil || len(got) != 1 || got[0].PID != 4242 || !got[0].Alive(store.Now()) {
		t.Fatalf("processes: %+v %v", got, err)
	}
	if err := store.StopProcess(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.RecentProcesses(ctx); got[0].Alive(store.Now()) {
		t.Error("a stopped process is alive")
	}
}
