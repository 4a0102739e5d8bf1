// Package client is the Go client of the ia-modules HTTP API (pkg/api). The
// ia CLI uses it for its runs, human-tasks and pipelines commands.
package client

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ia-modules/ia-go/pkg/api"
)

// URLDefault is the API URL when Config.URL is empty.
const URLDefault = "http://127.0.0.1:8080"

// Config configures New.
type Config struct {
	// URL is the API base URL. Default URLDefault.
	URL string
	// Token is the API token (ia_...).
	Token string
	// HTTPClient defaults to a client without timeout (event streams are
	// long-lived; bound calls with their context).
	HTTPClient *http.Client
}

// Client calls the API. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// Error is an error response of the API.
type Error struct {
	Status int
	api.ErrorDetail
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("api: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	if len(e.DecidedBy) > 0 {
		msg += " (decided by " + strings.Join(e.DecidedBy, ", ") + ")"
	}
	return msg
}

// IsStatus reports whether err is an API error with that HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	base := strings.TrimRight(cmp.Or(cfg.URL, URLDefault), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: invalid API URL %q", base)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: base, token: cfg.Token, hc: hc}, nil
}

// do sends a JSON request and decodes a JSON response into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any, hdr http.Header) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return resp.StatusCode, decodeError(resp)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("client: decoding %s %s response: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func decodeError(resp *http.Response) error {
	var b api.ErrorBody
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(raw, &b); err != nil || b.Error.Code == "" {
		return &Error{Status: resp.StatusCode, ErrorDetail: api.ErrorDetail{Code: "http_error", Message: strings.TrimSpace(string(raw))}}
	}
	return &Error{Status: resp.StatusCode, ErrorDetail: b.Error}
}

// SubmitRun starts a run. A repeated IdempotencyKey returns the first run
// and created false.
func (c *Client) SubmitRun(ctx context.Context, req *api.SubmitRequest) (run *api.Run, created bool, err error) {
	run = &api.Run{}
	status, err := c.do(ctx, http.MethodPost, "/v1/runs", req, run, nil)
	if err != nil {
		return nil, false, err
	}
	return run, status == http.StatusCreated, nil
}

// GetRun returns a run with every step's attempts.
func (c *Client) GetRun(ctx context.Context, id string) (*api.RunDetail, error) {
	out := &api.RunDetail{}
	_, err := c.do(ctx, http.MethodGet, "/v1/runs/"+url.PathEscape(id), nil, out, nil)
	return out, err
}

// ListRunsParams filters ListRuns.
type ListRunsParams struct {
	Status, Pipeline, CreatedBy string
	Since, Until                time.Time
	Cursor                      string
	Limit                       int
}

// ListRuns returns one page of runs, newest first.
func (c *Client) ListRuns(ctx context.Context, p *ListRunsParams) (*api.RunList, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	if p != nil {
		set("status", p.Status)
		set("pipeline", p.Pipeline)
		set("created_by", p.CreatedBy)
		set("cursor", p.Cursor)
		if !p.Since.IsZero() {
			set("since", p.Since.Format(time.RFC3339))
		}
		if !p.Until.IsZero() {
			set("until", p.Until.Format(time.RFC3339))
		}
		if p.Limit > 0 {
			set("limit", strconv.Itoa(p.Limit))
		}
	}
	out := &api.RunList{}
	_, err := c.do(ctx, http.MethodGet, "/v1/runs?"+q.Encode(), nil, out, nil)
	return out, err
}

// CancelRun asks a run to stop.
func (c *Client) CancelRun(ctx context.Context, id, reason string) (*api.Run, error) {
	out := &api.Run{}
	_, err := c.do(ctx, http.MethodPost, "/v1/runs/"+url.PathEscape(id)+"/cancel", &api.CancelRequest{Reason: reason}, out, nil)
	return out, err
}

// ResumeRun resumes a failed or cancelled run.
func (c *Client) ResumeRun(ctx context.Context, id string) (*api.Run, error) {
	out := &api.Run{}
	_, err := c.do(ctx, http.MethodPost, "/v1/runs/"+url.PathEscape(id)+"/resume", nil, out, nil)
	return out, err
}

// RetryStep retries a failed step of a failed run.
func (c *Client) RetryStep(ctx context.Context, id, step string) (*api.Run, error) {
	out := &api.Run{}
	_, err := c.do(ctx, http.MethodPost, "/v1/runs/"+url.PathEscape(id)+"/steps/"+url.PathEscape(step)+"/retry", nil, out, nil)
	return out, err
}

// ListHumanTasksParams filters ListHumanTasks.
type ListHumanTasksParams struct {
	Status, Assignee, Pipeline, RunID string
	Limit                             int
}

// ListHumanTasks lists human tasks, oldest first.
func (c *Client) ListHumanTasks(ctx context.Context, p *ListHumanTasksParams) ([]api.HumanTask, error) {
	q := url.Values{}
	if p != nil {
		for k, v := range map[string]string{"status": p.Status, "assignee": p.Assignee, "pipeline": p.Pipeline, "run_id": p.RunID} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if p.Limit > 0 {
			q.Set("limit", strconv.Itoa(p.Limit))
		}
	}
	out := &api.HumanTaskList{}
	_, err := c.do(ctx, http.MethodGet, "/v1/human-tasks?"+q.Encode(), nil, out, nil)
	return out.HumanTasks, err
}

// GetHumanTask returns one human task.
func (c *Client) GetHumanTask(ctx context.Context, id string) (*api.HumanTask, error) {
	out := &api.HumanTask{}
	_, err := c.do(ctx, http.MethodGet, "/v1/human-tasks/"+url.PathEscape(id), nil, out, nil)
	return out, err
}

// Decide records the caller's decision on a human task. decision is
// marshalled to JSON and must match the task's ui_schema fields.
func (c *Client) Decide(ctx context.Context, id string, decision any) (*api.HumanTask, error) {
	raw, err := json.Marshal(decision)
	if err != nil {
		return nil, err
	}
	out := &api.HumanTask{}
	_, err = c.do(ctx, http.MethodPost, "/v1/human-tasks/"+url.PathEscape(id)+"/decision", &api.DecisionRequest{Decision: raw}, out, nil)
	return out, err
}

// ListPipelines lists the latest version of every pipeline.
func (c *Client) ListPipelines(ctx context.Context) ([]api.Pipeline, error) {
	out := &api.PipelineList{}
	_, err := c.do(ctx, http.MethodGet, "/v1/pipelines", nil, out, nil)
	return out.Pipelines, err
}

// GetPipeline returns a pipeline's version (0: the latest) and its versions.
func (c *Client) GetPipeline(ctx context.Context, slug string, version int) (*api.PipelineDetail, error) {
	path := "/v1/pipelines/" + url.PathEscape(slug)
	if version > 0 {
		path += "?version=" + strconv.Itoa(version)
	}
	out := &api.PipelineDetail{}
	_, err := c.do(ctx, http.MethodGet, path, nil, out, nil)
	return out, err
}

// PutPipeline creates or updates a pipeline.
func (c *Client) PutPipeline(ctx context.Context, slug string, definition json.RawMessage) (*api.PipelinePutResponse, error) {
	out := &api.PipelinePutResponse{}
	_, err := c.do(ctx, http.MethodPut, "/v1/pipelines/"+url.PathEscape(slug), &api.PipelinePutRequest{Definition: definition}, out, nil)
	return out, err
}

// ImportPipelines imports many pipelines; unchanged ones are not rewritten.
func (c *Client) ImportPipelines(ctx context.Context, items []api.PipelineImportItem) ([]api.PipelinePutResponse, error) {
	out := &api.PipelineImportResponse{}
	_, err := c.do(ctx, http.MethodPost, "/v1/pipelines/import", &api.PipelineImportRequest{Pipelines: items}, out, nil)
	return out.Pipelines, err
}

// ValidatePipeline checks a definition without saving it.
func (c *Client) ValidatePipeline(ctx context.Context, definition json.RawMessage) (*api.ValidateResponse, error) {
	out := &api.ValidateResponse{}
	_, err := c.do(ctx, http.MethodPost, "/v1/pipelines/validate", &api.ValidateRequest{Definition: definition}, out, nil)
	return out, err
}

// CreateToken creates an API token (admin); the secret is in Secret.
func (c *Client) CreateToken(ctx context.Context, name, role string) (*api.Token, error) {
	out := &api.Token{}
	_, err := c.do(ctx, http.MethodPost, "/v1/tokens", &api.TokenCreateRequest{Name: name, Role: role}, out, nil)
	return out, err
}

// RevokeToken revokes an API token (admin).
func (c *Client) RevokeToken(ctx context.Context, id string) (*api.Token, error) {
	out := &api.Token{}
	_, err := c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(id), nil, out, nil)
	return out, err
}

// Events streams a run's events (runID "" for all runs) to fn until fn
// returns false, ctx ends or the stream closes. lastEventID > 0 resumes
// after that event; 0 replays a run's retained events from the start (and
// starts the global stream live). It returns the Seq of the last event
// delivered, to resume with.
func (c *Client) Events(ctx context.Context, runID string, lastEventID int64, fn func(api.Event) bool) (int64, error) {
	path := "/v1/events"
	if runID != "" {
		path = "/v1/runs/" + url.PathEscape(runID) + "/events"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return lastEventID, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if lastEventID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(lastEventID, 10))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return lastEventID, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return lastEventID, decodeError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) == 0 {
				continue
			}
			var ev api.Event
			if err := json.Unmarshal(data, &ev); err != nil {
				return lastEventID, fmt.Errorf("client: bad event: %w", err)
			}
			data = data[:0]
			lastEventID = ev.Seq
			if !fn(ev) {
				return lastEventID, nil
			}
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimSpace(line[len("data:"):])...)
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return lastEventID, err
	}
	return lastEventID, ctx.Err()
}
