package audiencesync

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"audiencebridge/egress"
	"audiencebridge/models"
)

// Notifier is the Observer that tells operators of failed runs and sharp
// match-rate drops: an unread notification in the console for the owner of
// the list or workflow, and a signed call of the webhooks that want it.
type Notifier struct {
	Service *Service
}

// RunFinished records the notification of an ended run, if it has one. A
// failure is logged: the run itself has ended either way.
func (n *Notifier) RunFinished(r *models.Run) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Service.Store.NotifyRun(ctx, r, n.enqueue); err != nil {
		n.Service.log().Warn("the end of a run was not notified", "run", r.ID, "error", err)
	}
}

// enqueue is the models.WebhookEnqueuer: one job per webhook and event.
func (n *Notifier) enqueue(ctx context.Context, tx *models.Store, hook *models.Webhook, body string) error {
	if n.Service.Jobs == nil {
		return errors.New("call the webhook: this process runs without a job engine")
	}
	_, err := n.Service.Jobs.EnqueueTx(ctx, tx, WebhookArgs{WebhookID: hook.ID, Body: body}, nil)
	return err
}

// WebhookArgs is the delivery of one event to one webhook. The body is kept
// as the exact bytes to sign and send; the secret never enters the job.
type WebhookArgs struct {
	WebhookID int64  `json:"webhookId"`
	Body      string `json:"body"`
}

// Kind names the job for the engine.
func (WebhookArgs) Kind() string { return "notificationWebhook" }

// WebhookAttempts bounds the deliveries of one event: with WebhookBackoff
// the last comes about an hour after the first.
const WebhookAttempts = 6

// InsertOpts sets the retry budget.
func (WebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: WebhookAttempts}
}

// WebhookTimeout bounds one call of a webhook.
const WebhookTimeout = 10 * time.Second

// WebhookBackoff is the wait before each new attempt; the last is reused.
var WebhookBackoff = []time.Duration{time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 45 * time.Minute}

// Sign is the models.WebhookSignatureHeader value of a body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookWorker delivers notificationWebhook jobs.
type WebhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	Service *Service
	// Client sends the calls; nil is a client that follows no redirect.
	Client *http.Client
}

// Timeout leaves the call its own time-out and a moment to record it.
func (w *WebhookWorker) Timeout(*river.Job[WebhookArgs]) time.Duration {
	return w.callTimeout() + 5*time.Second
}

// NextRetry spaces the attempts by WebhookBackoff.
func (w *WebhookWorker) NextRetry(job *river.Job[WebhookArgs]) time.Time {
	return time.Now().Add(WebhookBackoff[min(max(job.Attempt-1, 0), len(WebhookBackoff)-1)])
}

// callTimeout is the bound of one call: the service's, or WebhookTimeout.
func (w *WebhookWorker) callTimeout() time.Duration {
	if w.Service.WebhookTimeout > 0 {
		return w.Service.WebhookTimeout
	}
	return WebhookTimeout
}

// client sends the calls: one that follows no redirect, is bounded by the
// time-out and dials only the addresses the service's policy allows (the
// address is checked as dialed, so DNS that changed since the URL was
// saved cannot point the call at this machine or its network).
func (w *WebhookWorker) client() *http.Client {
	if w.Client != nil {
		return w.Client
	}
	return w.Service.Webhooks.Client(w.callTimeout())
}

// Work signs the body with the webhook's secret and posts it; an answer
// other than 2xx, or none, is retried.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	store := w.Service.Store
	hook, err := store.WebhookByID(ctx, job.Args.WebhookID)
	if errors.Is(err, models.ErrNotFound) {
		return river.JobCancel(err) // removed since the event
	} else if err != nil {
		return err
	}
	// Logged as scheme and host only: the path or query may carry a token.
	log := w.Service.log().With("webhook", hook.ID, "host", hostOf(hook.URL), "attempt", job.Attempt)
	if err := models.ValidWebhookURL(hook.URL); err != nil {
		w.record(ctx, hook.ID, "refused: the URL is not http or https")
		return river.JobCancel(err)
	}
	secret, err := w.Service.Libraries.Secrets.Open(hook.SecretSealed)
	if err != nil {
		w.record(ctx, hook.ID, "not sent: the secret cannot be opened; set the webhook again")
		return river.JobCancel(fmt.Errorf("open the webhook secret: %w", err))
	}
	body := []byte(job.Args.Body)
	timeout := w.callTimeout()
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(fmt.Errorf("build the webhook call: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "AudienceBridge-Webhook")
	req.Header.Set(models.WebhookSignatureHeader, Sign(secret, body))
	req.Header.Set("X-AudienceBridge-Delivery", strconv.FormatInt(job.ID, 10))
	resp, err := w.client().Do(req)
	var refused *egress.RefusedError
	if errors.As(err, &refused) {
		// Not retried: the policy will refuse the address again.
		reason := fmt.Sprintf("refused: the host is %s, which the console does not call", refused.Reason)
		w.record(ctx, hook.ID, reason)
		log.Warn("webhook call refused", "address", refused.Addr, "reason", refused.Reason)
		return river.JobCancel(fmt.Errorf("call the webhook at %s: %w", hostOf(hook.URL), refused))
	}
	if err != nil {
		// The error names the URL, which may carry a token: say only what failed.
		reason := "no answer"
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(callCtx.Err(), context.DeadlineExceeded) {
			reason = fmt.Sprintf("no answer within %s", timeout)
		}
		w.record(ctx, hook.ID, fmt.Sprintf("attempt %d of %d: %s", job.Attempt, job.MaxAttempts, reason))
		log.Warn("webhook call failed", "reason", reason)
		return fmt.Errorf("call the webhook at %s: %s", hostOf(hook.URL), reason)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // drained so the connection is reused; its content does not matter
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		w.record(ctx, hook.ID, fmt.Sprintf("attempt %d of %d: HTTP %d", job.Attempt, job.MaxAttempts, resp.StatusCode))
		log.Warn("webhook refused the call", "status", resp.StatusCode)
		return fmt.Errorf("call the webhook at %s: HTTP %d", hostOf(hook.URL), resp.StatusCode)
	}
	w.record(ctx, hook.ID, fmt.Sprintf("delivered: HTTP %d", resp.StatusCode))
	log.Info("webhook called", "status", resp.StatusCode)
	return nil
}

// record notes the outcome on the webhook; failing to is only logged.
func (w *WebhookWorker) record(ctx context.Context, id int64, outcome string) {
	if err := w.Service.Store.RecordWebhookDelivery(context.WithoutCancel(ctx), id, outcome); err != nil {
		w.Service.log().Warn("webhook outcome not recorded", "webhook", id, "error", err)
	}
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
