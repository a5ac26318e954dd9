package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
)

// loadVisits is the mix the load phase's sessions browse: whole pages and
// the HTMX fragments their search boxes, sort headers and pagers ask for.
func loadVisits(data pagesData) []pageVisit {
	members := fmt.Sprintf("/lists/%d", data.bigList)
	shared := fmt.Sprintf("/lists/%d", data.sharedLists[0])
	return []pageVisit{
		{"/lists", ""},
		{"/lists", ""},
		{"/lists?type=sharedAudience", "list-results"},
		{"/lists?search=list+01", "list-results"},
		{"/recipients", ""},
		{"/recipients", ""},
		{"/recipients?search=person77", "recipient-results"},
		{"/recipients?sort=modified&desc=1", "recipient-results"},
		{"/library", ""},
		{"/library?search=segment+12", "library-results"},
		{members, ""},
		{members + "?search=person9", "member-results"},
		{shared, ""},
	}
}

// measureLoad has the load sessions browse the console for the load
// duration while import syncs of the shared-audience lists run one after
// the other in the background with the real worker, each after a change
// of its segment's members.
func measureLoad(ctx context.Context, dsn string, rows int, opt *pagesOptions, n int) ([]result, error) {
	c, data, browsers, err := prepareConsole(ctx, dsn, rows, opt.loadSessions, n)
	if c != nil {
		defer func() { _ = c.stop() }()
	}
	if err != nil {
		return nil, err
	}
	visits := loadVisits(data)
	// Deep pages through the pagers, as an operator paging on gets them.
	for _, v := range []struct {
		visit pageVisit
		rows  int64
	}{{pageVisit{"/recipients", ""}, int64(rows)}, {pageVisit{fmt.Sprintf("/lists/%d", data.bigList), ""}, data.bigSize}} {
		deep, err := deepPage(ctx, browsers[0], v.visit, v.rows)
		if err != nil {
			return nil, err
		}
		visits = append(visits, deep)
	}
	stop, err := startProfile(opt.cpuProfile, "load", n)
	if err != nil {
		return nil, err
	}
	defer func() { _ = stop() }()

	// A segment's change queues its lists' syncs a moment later, so that a
	// burst of changes makes one; here syncs are to follow each other.
	c.sync.ChangeDelay = time.Millisecond
	syncCtx, stopSyncs := context.WithCancel(ctx)
	var syncs, failed atomic.Int64
	var syncErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		syncErr = syncLoop(syncCtx, c, data, &syncs, &failed)
	}()
	var lat *latencies
	r, err := timed(func() error {
		lat = hammer(ctx, browsers, opt.loadDuration, func(s, i int) pageVisit {
			return visits[rand.IntN(len(visits))]
		})
		return nil
	})
	stopSyncs()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	lat.fill(&r, r.Seconds)
	r.Database, r.Run, r.Phase, r.Step, r.Rows, r.Sessions = string(c.store.Dialect()), n, "load", "load", int64(rows), len(browsers)
	r.Syncs, r.SyncsFailed = syncs.Load(), failed.Load()
	// The server's log: a 5xx is logged by the error handler, and SQLite's
	// busy errors by whoever met them.
	r.Locked += int64(c.log.count("database is locked") + c.log.count("SQLITE_BUSY"))
	serverErrors := c.log.lines(`"status":5`, 3)
	switch {
	case r.Check != "ok":
	case r.Locked > 0:
		r.Check = fmt.Sprintf("the log says the database is locked %d times: %s", r.Locked, strings.Join(c.log.lines("locked", 2), " | "))
	case len(serverErrors) > 0:
		r.Check = "the log has 5xx answers: " + strings.Join(serverErrors, " | ")
	case syncErr != nil && !errors.Is(syncErr, context.Canceled):
		r.Check = "background syncs: " + syncErr.Error()
	case r.SyncsFailed > 0:
		r.Check = fmt.Sprintf("%d background syncs failed", r.SyncsFailed)
	case r.Syncs == 0:
		r.Check = "no background sync finished"
	}
	fmt.Fprintf(os.Stderr, "abbench: %s run %d: load %d requests, %.0f/s, p50 %.1f ms, p99 %.1f ms (without searches: p50 %.1f ms, p99 %.1f ms), %d syncs, %s\n",
		c.store.Dialect(), n, r.Requests, r.RPS, r.P50Ms, r.P99Ms, r.BrowseP50Ms, r.BrowseP99Ms, r.Syncs, r.Check)
	return []result{r}, nil
}

// syncLoop changes a shared audience's members (2,000 of them leave or
// come back) and synchronises its list with the real worker, list after
// list, until ctx ends; it counts the syncs that finished.
func syncLoop(ctx context.Context, c *console, data pagesData, done, failed *atomic.Int64) error {
	db, err := c.store.SQL()
	if err != nil {
		return err
	}
	actor := models.SystemActor("abbench")
	for i := 0; ctx.Err() == nil; i++ {
		k := i % len(data.sharedLists)
		sid, listID := data.segments[k], data.sharedLists[k]
		// The first 2,000 visitor IDs of the segment's recipients: removed
		// on odd rounds of this list, added back on even ones.
		from := int64(k)*pagesSegmentSize*5/4 + 1
		rows, err := db.QueryContext(ctx, rebind(c.store.Dialect(), "SELECT visitor_id FROM recipient_visitor_ids WHERE recipient_id BETWEEN ? AND ? ORDER BY recipient_id LIMIT 2000"), from, from+pagesSegmentSize)
		if err != nil {
			return err
		}
		var ids strings.Builder
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			ids.WriteString(v + "\n")
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		change := c.lib.RemoveMembers
		if (i/len(data.sharedLists))%2 == 1 {
			change = c.lib.AddMembers
		}
		if _, err := change(ctx, sid, library.Lines(strings.NewReader(ids.String()))); err != nil {
			return fmt.Errorf("change segment %d: %w", sid, err)
		}
		run, err := c.sync.Sync(ctx, listID, models.TriggerManual, actor)
		if err != nil {
			return fmt.Errorf("sync list %d: %w", listID, err)
		}
		if _, err := waitRun(ctx, c.store, run.ID, 2*time.Minute); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed.Add(1)
			continue
		}
		done.Add(1)
	}
	return ctx.Err()
}
