package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/mattn/go-sqlite3"

	"audiencebridge/identity"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the SQL database behind a Store.
type Dialect string

// The supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is the one handle on the database. Every read and write of the
// domain goes through its methods.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	// Now is the clock used for every timestamp and expiry decision; tests
	// replace it to move time forward without sleeping.
	Now func() time.Time

	pgPool *pgxpool.Pool // PostgreSQL only: shared with the job engine
	// searches bounds the substring searches of large tables that run at
	// once (see searchSlot).
	searches chan struct{}
	inTx     bool
	sqlTx    *sql.Tx // the open transaction on SQLite
	pgTx     pgx.Tx  // the open transaction on PostgreSQL
}

// IsPostgresURL reports whether a --database value selects PostgreSQL.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to the database named by dsn: a postgres:// URL selects
// PostgreSQL, anything else is the path of an SQLite file, created with its
// folder when missing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	gcfg := &gorm.Config{
		Logger: logger.New(log.New(os.Stderr, "", log.LstdFlags), logger.Config{
			SlowThreshold:             time.Second,
			LogLevel:                  logger.Warn,
			IgnoreRecordNotFoundError: true,
		}),
		NowFunc:                func() time.Time { return time.Now().UTC() },
		SkipDefaultTransaction: true,
		TranslateError:         true,
	}
	var (
		db      *gorm.DB
		dialect Dialect
		err     error
	)
	var pool *pgxpool.Pool
	if IsPostgresURL(dsn) {
		dialect = Postgres
		// One pgx pool serves GORM (through database/sql) and the job engine,
		// so a transaction can hold both a domain change and the job it starts.
		pcfg, perr := pgxpool.ParseConfig(dsn)
		if perr != nil {
			return nil, fmt.Errorf("parse the PostgreSQL URL: %w", perr)
		}
		pcfg.MaxConns = 20
		if pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
			return nil, fmt.Errorf("open the PostgreSQL pool: %w", err)
		}
		db, err = gorm.Open(postgres.New(postgres.Config{Conn: stdlib.OpenDBFromPool(pool)}), gcfg)
	} else {
		dialect = SQLite
		if dir := filepath.Dir(dsn); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create the database folder %s: %w", dir, err)
			}
		}
		// WAL lets readers work while the one writer writes; busy_timeout makes
		// a second writer wait instead of failing; BEGIN IMMEDIATE takes the
		// write lock up front so two transactions never deadlock upgrading.
		sqliteDSN := "file:" + dsn + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate&_synchronous=NORMAL"
		db, err = gorm.Open(sqlite.New(sqlite.Config{DriverName: sqliteDriverName, DSN: sqliteDSN}), gcfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open the %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open the %s database: %w", dialect, err)
	}
	if dialect == SQLite {
		sqlDB.SetMaxOpenConns(8)
	}
	s := &Store{db: db, dialect: dialect, Now: func() time.Time { return time.Now().UTC() }, pgPool: pool,
		searches: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Ping(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to the %s database: %w", dialect, err)
	}
	if dialect == SQLite {
		var version string
		if err := db.WithContext(ctx).Raw("SELECT sqlite_version()").Scan(&version).Error; err != nil {
			return nil, fmt.Errorf("read the SQLite version: %w", err)
		}
		var fk int
		if err := db.WithContext(ctx).Raw("PRAGMA foreign_keys").Scan(&fk).Error; err != nil || fk != 1 {
			return nil, errors.Join(errors.New("SQLite foreign keys are not enabled"), err)
		}
	}
	return s, nil
}

// sqliteDriverName is mattn's driver with LOWER replaced by a Unicode-aware
// one: SQLite's own folds ASCII only, so "été" would not find "Été".
const sqliteDriverName = "sqlite3_audiencebridge"

func init() {
	sql.Register(sqliteDriverName, &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		if err := conn.RegisterFunc("lower", unicodeLower, true); err != nil {
			return err
		}
		// PostgreSQL has sha256(); the import sync reconciles hashed
		// declared IDs with it on both databases.
		return conn.RegisterFunc("ab_sha256", identity.SHA256Hex, true)
	}})
}

// unicodeLower is LOWER for any SQLite value: NULL stays NULL, numbers stay.
func unicodeLower(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ToLower(x)
	case []byte:
		return strings.ToLower(string(x))
	}
	return v
}

// Dialect tells which database the store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.db.WithContext(ctx).Raw("SELECT 1").Scan(&one).Error
}

// SQL returns the underlying connection pool, for components such as the job
// engine that need a database/sql handle on the same database.
func (s *Store) SQL() (*sql.DB, error) { return s.db.DB() }

// Close releases the connections.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	err = sqlDB.Close()
	if s.pgPool != nil {
		s.pgPool.Close()
	}
	return err
}

// PgxPool is the PostgreSQL pool, nil on SQLite.
func (s *Store) PgxPool() *pgxpool.Pool { return s.pgPool }

// SQLTx is the open transaction of a store given to a Tx callback on SQLite.
func (s *Store) SQLTx() *sql.Tx { return s.sqlTx }

// PgxTx is the open transaction of a store given to a Tx callback on
// PostgreSQL.
func (s *Store) PgxTx() pgx.Tx { return s.pgTx }

var savepoints atomic.Int64

// Tx runs fn inside one transaction: everything fn does through the store it
// receives is committed together, or not at all when fn returns an error. A
// Tx inside a Tx is a savepoint of the outer transaction.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	switch {
	case s.inTx:
		name := fmt.Sprintf("ab_sp_%d", savepoints.Add(1))
		if err := s.q(ctx).SavePoint(name).Error; err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		if err := fn(s); err != nil {
			if rerr := s.q(ctx).RollbackTo(name).Error; rerr != nil {
				return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
			}
			return err
		}
		return nil
	case s.dialect == Postgres:
		return s.pgxTransaction(ctx, fn)
	}
	return s.db.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
		sqlTx, _ := gtx.Statement.ConnPool.(*sql.Tx)
		return fn(&Store{db: gtx, dialect: s.dialect, Now: s.Now, inTx: true, sqlTx: sqlTx})
	})
}

// pgxTransaction opens the transaction with pgx on a connection that GORM
// then uses too: the job engine (River's pgx driver) needs a pgx.Tx, and
// GORM's statements on the same connection are part of that transaction.
func (s *Store) pgxTransaction(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Connection(func(cdb *gorm.DB) (err error) {
		conn, ok := cdb.Statement.ConnPool.(*sql.Conn)
		if !ok {
			return errors.New("begin transaction: no dedicated connection")
		}
		var pc *pgx.Conn
		if err := conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("unexpected driver connection %T", dc)
			}
			pc = sc.Conn()
			return nil
		}); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		ptx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		committed := false
		defer func() {
			if !committed {
				if rerr := ptx.Rollback(context.WithoutCancel(ctx)); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) && err != nil {
					err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
				}
			}
		}()
		if err := fn(&Store{db: cdb, dialect: s.dialect, Now: s.Now, inTx: true, pgTx: ptx, pgPool: s.pgPool}); err != nil {
			return err
		}
		if err := ptx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		committed = true
		return nil
	})
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// likeEscape escapes the LIKE wildcards of a search term so that a user
// typing "%" or "_" searches for those characters.
func likeEscape(term string) string { return likeEscaper.Replace(term) }

// matchAny keeps the rows where one of the columns contains the term,
// ignoring case. Both sides go through the database's LOWER so that they
// fold alike (on SQLite LOWER is replaced by a Unicode-aware one, see Open).
func matchAny(db *gorm.DB, term string, columns ...string) *gorm.DB {
	term = strings.TrimSpace(term)
	if term == "" {
		return db
	}
	pattern := "%" + likeEscape(term) + "%"
	conds := make([]string, len(columns))
	args := make([]any, len(columns))
	for i, c := range columns {
		conds[i] = "LOWER(" + c + `) LIKE LOWER(?) ESCAPE '\'`
		args[i] = pattern
	}
	return db.Where(strings.Join(conds, " OR "), args...)
}

func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}
