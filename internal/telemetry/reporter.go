package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// LastSentFile is the file in the data folder that records when the last
// report was sent, so a restart does not send again within Interval.
const LastSentFile = "telemetry_last_sent"

// Reporter defaults.
const (
	DefaultDelay    = 2 * time.Minute
	DefaultInterval = 24 * time.Hour
	DefaultPoll     = time.Hour
)

// Reporter sends the report shortly after start and then once per Interval
// while telemetry.enabled is set. It rereads the configuration before every
// report, so turning telemetry off stops the next one.
type Reporter struct {
	// Delay is the wait between Run starting and the first check.
	Delay time.Duration
	// Interval is the time between two reports.
	Interval time.Duration
	// Poll is how long Run waits before checking again while telemetry is
	// disabled or a report failed; Wake checks at once.
	Poll time.Duration

	src    Sources
	logger *slog.Logger
	now    func() time.Time
	send   func(ctx context.Context, endpoint string, p Payload) error
	wake   chan struct{}
	// checked, when set (tests), is called after each check Run makes.
	checked func()

	warnOnce sync.Once // the first failed report is a warning, later ones debug
}

// NewReporter returns a Reporter with the default timings.
func NewReporter(src Sources, logger *slog.Logger) *Reporter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Reporter{
		Delay:    DefaultDelay,
		Interval: DefaultInterval,
		Poll:     DefaultPoll,
		src:      src,
		logger:   logger,
		now:      time.Now,
		send:     Send,
		wake:     make(chan struct{}, 1),
	}
}

// Wake makes a running Reporter check now whether a report is due (e.g. after
// a config reload turned telemetry on) instead of at its next poll. It never
// blocks and does not cut the initial Delay short.
func (r *Reporter) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run reports until ctx is done.
func (r *Reporter) Run(ctx context.Context) {
	timer := time.NewTimer(r.Delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	for {
		wait := r.check(ctx)
		if r.checked != nil {
			r.checked()
		}
		if wait <= 0 {
			wait = DefaultPoll
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wake:
			timer.Stop() // since Go 1.23 no stale tick is left to drain
		}
	}
}

// check sends a report if telemetry is enabled and the last one is older
// than Interval, and returns how long to wait before checking again.
func (r *Reporter) check(ctx context.Context) time.Duration {
	cfg := r.src.Config()
	if cfg == nil || !cfg.Telemetry.Enabled {
		return r.Poll
	}
	now := r.now()
	last, err := readLastSent(r.src.DataDir)
	if err != nil {
		r.logger.Debug("telemetry last-sent time unreadable", "error", err)
	}
	// A time more than one Interval ahead means the clock went back or the
	// file is bogus; report rather than stay silent for days.
	if !last.IsZero() && now.Sub(last) < r.Interval && last.Sub(now) < r.Interval {
		return min(r.Poll, last.Add(r.Interval).Sub(now))
	}

	p, err := Build(ctx, r.src)
	if err != nil {
		r.failed(err)
		return r.Poll
	}
	endpoint := cfg.Telemetry.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if err := r.send(ctx, endpoint, p); err != nil {
		r.failed(err)
		return r.Poll
	}
	if err := writeLastSent(r.src.DataDir, now); err != nil {
		r.logger.Warn("telemetry last-sent time not saved", "error", err)
	}
	if u, err := url.Parse(endpoint); err == nil {
		endpoint = u.Redacted() // no password from the URL in the log
	}
	r.logger.Info("telemetry report sent", "endpoint", endpoint)
	return min(r.Poll, r.Interval)
}

func (r *Reporter) failed(err error) {
	level := slog.LevelDebug
	r.warnOnce.Do(func() { level = slog.LevelWarn })
	r.logger.Log(context.Background(), level, "telemetry report not sent", "error", err)
}

func readLastSent(dataDir string) (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, LastSentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", LastSentFile, err)
	}
	return t, nil
}

func writeLastSent(dataDir string, t time.Time) error {
	return writeFileAtomic(filepath.Join(dataDir, LastSentFile), []byte(t.UTC().Format(time.RFC3339Nano)+"\n"))
}
