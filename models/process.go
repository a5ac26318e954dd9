package models

import (
	"context"
	"fmt"
	"time"
)

// Process is a console or worker process using the database.
type Process struct {
	ID        string
	Host      string
	PID       int `gorm:"column:pid"`
	Role      string
	StartedAt time.Time
	SeenAt    time.Time
	StoppedAt *time.Time
}

// TableName tells GORM where processes live.
func (Process) TableName() string { return "processes" }

// ProcessBeat is how often a process says it lives; one unseen for three
// beats is gone.
const ProcessBeat = 10 * time.Second

// Alive reports whether the process was seen lately and has not stopped.
func (p *Process) Alive(now time.Time) bool {
	return p.StoppedAt == nil && now.Sub(p.SeenAt) < 3*ProcessBeat
}

// RegisterProcess records this process at start.
func (s *Store) RegisterProcess(ctx context.Context, p *Process) error {
	p.StartedAt, p.SeenAt = s.Now(), s.Now()
	if err := s.q(ctx).Create(p).Error; err != nil {
		return fmt.Errorf("register the process: %w", err)
	}
	// Processes gone for a week are forgotten.
	return s.q(ctx).Where("seen_at < ?", s.Now().Add(-7*24*time.Hour)).Delete(&Process{}).Error
}

// BeatProcess records that a process still lives.
func (s *Store) BeatProcess(ctx context.Context, id string) error {
	return s.q(ctx).Model(&Process{}).Where("id = ?", id).Update("seen_at", s.Now()).Error
}

// StopProcess records a clean stop.
func (s *Store) StopProcess(ctx context.Context, id string) error {
	return s.q(ctx).Model(&Process{}).Where("id = ?", id).Update("stopped_at", s.Now()).Error
}

// RecentProcesses lists the processes seen in the last day, newest first.
func (s *Store) RecentProcesses(ctx context.Context) ([]*Process, error) {
	var out []*Process
	err := s.q(ctx).Where("seen_at > ?", s.Now().Add(-24*time.Hour)).Order("seen_at DESC").Limit(100).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	return out, nil
}
