package models

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// LibBatchRetention is how long what a batch upload recorded about its
// users is kept: the split files of one upload arrive within it.
const LibBatchRetention = 24 * time.Hour

// Statement sizes of batch changes: well under SQLite's 32,766 and
// PostgreSQL's 65,535 bound parameters.
const (
	batchInChunk   = 5000
	batchPairChunk = 4000
	batchUserChunk = 2000
)

// LibSegmentKey is what resolving a batch file's keys needs of a segment.
type LibSegmentKey struct {
	SID             int64 `gorm:"column:sid"`
	IntegrationCode *string
	DataSourceID    int64
	Status          string
}

// LibSegmentKeys lists the segments of one library data source.
func (s *Store) LibSegmentKeys(ctx context.Context, dataSourceID int64) ([]LibSegmentKey, error) {
	var out []LibSegmentKey
	err := s.q(ctx).Raw("SELECT sid, integration_code, data_source_id, status FROM lib_segments WHERE data_source_id = ?", dataSourceID).
		Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list the segments of data source %d: %w", dataSourceID, err)
	}
	return out, nil
}

// StartLibBatchPart registers one file (part) of a batch upload and returns
// its id. What an earlier processing of the same file recorded is
// forgotten, so that sending a file again counts its rows once; uploads
// untouched for LibBatchRetention are purged.
func (s *Store) StartLibBatchPart(ctx context.Context, upload string, part int) (int64, error) {
	var stale []int64
	err := s.q(ctx).Raw(`SELECT id FROM lib_batch_parts WHERE upload IN
		(SELECT upload FROM lib_batch_parts GROUP BY upload HAVING MAX(processed_at) < ?)`, s.Now().Add(-LibBatchRetention)).Scan(&stale).Error
	if err != nil {
		return 0, fmt.Errorf("find old batch uploads: %w", err)
	}
	for _, id := range stale {
		if err := s.ForgetLibBatchPart(ctx, id); err != nil {
			return 0, err
		}
	}
	var id int64
	err = s.q(ctx).Raw(`INSERT INTO lib_batch_parts (upload, part, processed_at) VALUES (?, ?, ?)
		ON CONFLICT (upload, part) DO UPDATE SET processed_at = excluded.processed_at RETURNING id`, upload, part, s.Now()).Scan(&id).Error
	if err != nil {
		return 0, fmt.Errorf("register batch file: %w", err)
	}
	return id, s.deleteBatchUsers(ctx, id)
}

// ForgetLibBatchPart deletes what a file recorded about its users, once no
// other file of its upload can follow (a file that is not split) or the
// upload is old.
func (s *Store) ForgetLibBatchPart(ctx context.Context, partID int64) error {
	if err := s.deleteBatchUsers(ctx, partID); err != nil {
		return err
	}
	if err := s.q(ctx).Exec("DELETE FROM lib_batch_parts WHERE id = ?", partID).Error; err != nil {
		return fmt.Errorf("forget batch file: %w", err)
	}
	return nil
}

// deleteBatchUsers deletes a file's users in short statements, so that the
// database's one writer is not held for the seconds a million rows take.
func (s *Store) deleteBatchUsers(ctx context.Context, partID int64) error {
	for {
		res := s.q(ctx).Exec(`DELETE FROM lib_batch_users WHERE part_id = ? AND member IN
			(SELECT member FROM lib_batch_users WHERE part_id = ? LIMIT ?)`, partID, partID, 50000)
		if res.Error != nil {
			return fmt.Errorf("forget batch users: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
	}
}

// LockLibBatchUpload makes the batches of one upload run one at a time; the
// caller holds a transaction. SQLite has one writer at a time already.
func (s *Store) LockLibBatchUpload(ctx context.Context, upload string) error {
	if s.dialect != Postgres {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte("lib_batch:" + upload)) // a hash.Hash never fails to write
	if err := s.q(ctx).Exec("SELECT pg_advisory_xact_lock(?)", int64(h.Sum64())).Error; err != nil {
		return fmt.Errorf("lock batch upload: %w", err)
	}
	return nil
}

// LibBatchUser is what the files of an upload recorded about one user: the
// rows seen so far, and whether an .overwrite replaced the user's
// memberships already.
type LibBatchUser struct {
	Rows   int
	Listed bool
}

// LibBatchUsers returns what the upload's files recorded about members;
// users not seen yet are absent.
func (s *Store) LibBatchUsers(ctx context.Context, upload string, members []string) (map[string]LibBatchUser, error) {
	out := make(map[string]LibBatchUser)
	for chunk := range slices.Chunk(members, batchInChunk) {
		var rows []struct {
			Member   string
			RowCount int
			Listed   int
		}
		err := s.q(ctx).Raw(`SELECT u.member AS member, SUM(u.row_count) AS row_count, MAX(u.listed) AS listed
			FROM lib_batch_users u JOIN lib_batch_parts p ON p.id = u.part_id
			WHERE p.upload = ? AND u.member IN ? GROUP BY u.member`, upload, chunk).Scan(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("read batch users: %w", err)
		}
		for _, r := range rows {
			out[r.Member] = LibBatchUser{Rows: r.RowCount, Listed: r.Listed > 0}
		}
	}
	return out, nil
}

// LibPair is one membership: a member of a segment.
type LibPair struct {
	SID    int64
	Member string
}

// LibBatchChange is one batch of a batch file, applied set-based.
type LibBatchChange struct {
	PartID       int64
	DataSourceID int64
	// Replace lists users whose memberships in every segment of the data
	// source are deleted before Add and Remove apply (an .overwrite).
	Replace []string
	Add     []LibPair
	Remove  []LibPair
	// Users are this batch's rows per user, added to what the file recorded.
	Users map[string]LibBatchUser
}

// ApplyLibBatch applies one batch inside the caller's transaction and
// returns the segments whose members it touched, in sid order. Sizes are
// left to RecountLibSegments.
func (s *Store) ApplyLibBatch(ctx context.Context, ch LibBatchChange) ([]int64, error) {
	touched := map[int64]bool{}
	for chunk := range slices.Chunk(ch.Replace, batchInChunk) {
		rows, err := s.q(ctx).Raw(`DELETE FROM lib_members WHERE segment_id IN (SELECT sid FROM lib_segments WHERE data_source_id = ?)
			AND member IN ? RETURNING segment_id`, ch.DataSourceID, chunk).Rows()
		if err != nil {
			return nil, fmt.Errorf("replace memberships: %w", err)
		}
		for rows.Next() {
			var sid int64
			if err := rows.Scan(&sid); err != nil {
				_ = rows.Close() // the scan error is the one to report
				return nil, fmt.Errorf("replace memberships: %w", err)
			}
			touched[sid] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("replace memberships: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("replace memberships: %w", err)
		}
	}
	for sid, members := range groupPairs(ch.Remove) {
		touched[sid] = true
		for chunk := range slices.Chunk(members, batchInChunk) {
			if err := s.q(ctx).Exec("DELETE FROM lib_members WHERE segment_id = ? AND member IN ?", sid, chunk).Error; err != nil {
				return nil, fmt.Errorf("remove memberships: %w", err)
			}
		}
	}
	// In index order, each statement fills few pages of the index.
	slices.SortFunc(ch.Add, func(a, b LibPair) int { return cmp.Or(cmp.Compare(a.SID, b.SID), strings.Compare(a.Member, b.Member)) })
	for chunk := range slices.Chunk(ch.Add, batchPairChunk) {
		var sb strings.Builder
		sb.WriteString("INSERT INTO lib_members (segment_id, member) VALUES ")
		args := make([]any, 0, 2*len(chunk))
		for i, p := range chunk {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?)")
			args = append(args, p.SID, p.Member)
			touched[p.SID] = true
		}
		sb.WriteString(" ON CONFLICT DO NOTHING")
		if err := s.q(ctx).Exec(sb.String(), args...).Error; err != nil {
			return nil, fmt.Errorf("add memberships: %w", err)
		}
	}
	if err := s.recordBatchUsers(ctx, ch.PartID, ch.Users); err != nil {
		return nil, err
	}
	sids := make([]int64, 0, len(touched))
	for sid := range touched {
		sids = append(sids, sid)
	}
	slices.Sort(sids)
	return sids, nil
}

func groupPairs(pairs []LibPair) map[int64][]string {
	out := map[int64][]string{}
	for _, p := range pairs {
		out[p.SID] = append(out[p.SID], p.Member)
	}
	return out
}

func (s *Store) recordBatchUsers(ctx context.Context, partID int64, users map[string]LibBatchUser) error {
	members := make([]string, 0, len(users))
	for m := range users {
		members = append(members, m)
	}
	slices.Sort(members)
	for chunk := range slices.Chunk(members, batchUserChunk) {
		var sb strings.Builder
		sb.WriteString("INSERT INTO lib_batch_users (part_id, member, row_count, listed) VALUES ")
		args := make([]any, 0, 4*len(chunk))
		for i, m := range chunk {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?,?)")
			listed := 0
			if users[m].Listed {
				listed = 1
			}
			args = append(args, partID, m, users[m].Rows, listed)
		}
		sb.WriteString(` ON CONFLICT (part_id, member) DO UPDATE SET row_count = lib_batch_users.row_count + excluded.row_count,
			listed = CASE WHEN excluded.listed > lib_batch_users.listed THEN excluded.listed ELSE lib_batch_users.listed END`)
		if err := s.q(ctx).Exec(sb.String(), args...).Error; err != nil {
			return fmt.Errorf("record batch users: %w", err)
		}
	}
	return nil
}

// RecountLibSegments sets the size of segments from their members, records
// the sizes in their history and clears "collecting", in one transaction.
func (s *Store) RecountLibSegments(ctx context.Context, sids []int64) error {
	if len(sids) == 0 {
		return nil
	}
	return s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		for chunk := range slices.Chunk(sids, batchInChunk) {
			err := tx.q(ctx).Exec(`UPDATE lib_segments SET size = (SELECT COUNT(*) FROM lib_members m WHERE m.segment_id = lib_segments.sid),
				updated_at = ?, collecting = ? WHERE sid IN ?`, now, false, chunk).Error
			if err != nil {
				return fmt.Errorf("recount segment sizes: %w", err)
			}
			err = tx.q(ctx).Exec("INSERT INTO lib_segment_sizes (segment_id, at, size) SELECT sid, ?, size FROM lib_segments WHERE sid IN ?",
				now, chunk).Error
			if err != nil {
				return fmt.Errorf("record segment sizes: %w", err)
			}
		}
		return nil
	})
}
