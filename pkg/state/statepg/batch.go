package statepg

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ia-modules/ia-go/internal/jsonx"
	"github.com/ia-modules/ia-go/pkg/state"
)

var _ state.BatchUpdater = (*Store)(nil)

// A round statement's variant: what it writes besides the runs, and whether
// it applies a single update.
const (
	roundAttempts = 1 << iota
	roundOutbox
	roundHuman
	roundDelete
	// roundSingle: a round of one update. Its statement takes the run's
	// values as scalars, finds the run by key and gates the other writes with
	// cross joins: no function scans, sorts or joins to set up, which in a
	// small statement cost more than the writes themselves (about half of a
	// one-update commit's time on the server, measured).
	roundSingle
	// roundAttemptOne, roundOutboxOne (with roundSingle): the update has
	// exactly one attempt row, or one outbox message, passed as scalars too.
	roundAttemptOne
	roundOutboxOne
	roundVariants = 1 << iota
)

// roundSQL holds the statement of every variant, so each is one cached plan
// per connection. A variant leaves out the parts it has no rows for: an empty
// INSERT still opens its table and every index at executor start.
var roundSQL = func() (qs [roundVariants]string) {
	for v := range qs {
		qs[v] = buildRoundSQL(v)
	}
	return qs
}()

// planSQL sets how the rest of the batch's transaction is planned (is_local:
// the settings end with the transaction, so the pooled connection is left as
// it was):
//   - generic plans: the planner sees the arrays' lengths when it makes a
//     custom plan, so for a small batch it finds the custom plan cheaper than
//     the generic one (which assumes 10 rows per array) and would plan the
//     statement afresh on every execution, which costs more than executing it;
//   - no sequential scans or hash joins: every statement here reaches its rows
//     by key, and a cached plan lives as long as its connection. One made
//     while the tables were nearly empty (a new database, a burst after a
//     quiet spell) scanned the outbox, which every step writes and deletes,
//     whole on every commit as it grew: a quarter of the server's time.
const planSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
	set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true)`

// buildRoundSQL returns the statement that applies one round of updates of
// distinct runs, whatever their number: the cost on the server is one
// statement (one executor start, one set of trigger queues) per round, not
// one per update.
//
// p is the updates, one row each, and ord its 1-based position in the round.
// u is the guarded UPDATE of every run whose version matches, and every other
// write joins u, so a stale or missing run writes nothing and raises
// nothing: the other updates of the round commit. Attempt and human task rows
// join u by run ID, since they always belong to the updated run; outbox rows
// and deletes carry their update's ord, since a message may name another
// run.
//
// Rows come in as parallel arrays (unnest), which pgx sends in binary: the
// server parses no JSON but the jsonb values themselves. Human tasks, rare
// and wide, come as a jsonb recordset (humanRecs). The arguments, in order
// (see roundArgs): run IDs, expected versions, statuses, states, outputs,
// errors, finished flags, the write time; then, in the variants that have
// them, the attempts' 11 columns, the outbox rows' 9 (ord first), the human
// tasks' jsonb, and the deletes' ords and seqs. A single update passes the
// same values as scalars instead (its attempt without the run ID, its
// message without the ord, its deletes as the seqs alone).
//
// The result is one row per update: ord, the new version (applied = true) or
// the stored one as the statement's snapshot saw it (false: a conflict; 0:
// the run does not exist), and the seqs of its outbox rows in message order.
func buildRoundSQL(variant int) string {
	single := variant&roundSingle != 0
	attOne := single && variant&roundAttemptOne != 0
	obOne := single && variant&roundOutboxOne != 0
	// joinU gates the rows of one part on their update having applied.
	joinU := func(on string) string {
		if single {
			return " CROSS JOIN u"
		}
		return " JOIN u ON " + on
	}
	n := 0
	param := func(typ string) string {
		n++
		return "$" + strconv.Itoa(n) + "::" + typ
	}
	params := func(types ...string) string {
		as := make([]string, len(types))
		for i, typ := range types {
			as[i] = param(typ)
		}
		return strings.Join(as, ", ")
	}
	unnest := func(types ...string) string { return "unnest(" + params(types...) + ")" }
	var q string
	if single {
		id, expected, status, st, output, errText, finished, now := param("text"), param("bigint"), param("text"),
			param("json"), param("jsonb"), param("text"), param("boolean"), param("timestamptz")
		q = `, u AS (
	UPDATE runs r SET
		status = coalesce(nullif(` + status + `, ''), r.status),
		state = coalesce(` + st + `, r.state),
		output = coalesce(` + output + `, r.output),
		error = coalesce(nullif(` + errText + `, ''), r.error),
		finished_at = CASE WHEN ` + finished + ` THEN coalesce(r.finished_at, ` + now + `) ELSE r.finished_at END,
		updated_at = ` + now + `,
		version = r.version + 1
	WHERE r.id = ` + id + ` AND r.version = ` + expected + `
	RETURNING r.id, r.version
)`
	} else {
		runs := unnest("text[]", "bigint[]", "text[]", "json[]", "jsonb[]", "text[]", "boolean[]")
		now := param("timestamptz")
		q = `, u AS (
	UPDATE runs r SET
		status = coalesce(nullif(p.status, ''), r.status),
		state = coalesce(p.state, r.state),
		output = coalesce(p.output, r.output),
		error = coalesce(nullif(p.error, ''), r.error),
		finished_at = CASE WHEN p.finished THEN coalesce(r.finished_at, ` + now + `) ELSE r.finished_at END,
		updated_at = ` + now + `,
		version = r.version + 1
	FROM ` + runs + `
		WITH ORDINALITY AS p(id, expected, status, state, output, error, finished, ord)
	WHERE r.id = p.id AND r.version = p.expected
	RETURNING r.id, r.version, p.ord
)`
	}
	switch {
	case attOne:
		q += `, a AS (
	` + attemptInsertInto + `
	SELECT u.id, ` + params("text", "int", "int", "text", "jsonb", "jsonb", "text", "text", "timestamptz", "timestamptz") + `
	FROM u` + attemptOnConflict + `
)`
	case variant&roundAttempts != 0:
		q += `, a AS (
	` + attemptInsertInto + `
	SELECT x.* FROM ` + unnest("text[]", "text[]", "int[]", "int[]", "text[]", "jsonb[]", "jsonb[]",
			"text[]", "text[]", "timestamptz[]", "timestamptz[]") + `
		AS x(run_id, step_id, iteration, attempt, status, input, output, error, worker_id, started_at, finished_at)
	` + joinU("u.id = x.run_id") + `
	` + attemptOrder + attemptOnConflict + `
)`
	}
	seqs, seqsJoin := "NULL::bigint[]", ""
	switch {
	case obOne:
		q += `, o AS (
	INSERT INTO outbox (run_id, queue, msg_id, priority, headers, body, deliver_at, claimed_until)
	SELECT ` + params("text", "text", "text", "int", "jsonb", "bytea") + `, coalesce(` + param("timestamptz") + `, now()), ` + param("timestamptz") + `
	FROM u
	RETURNING seq
)`
		seqs = "array(SELECT seq FROM o)"
	case variant&roundOutbox != 0:
		// The seqs are drawn here rather than by the column default so that
		// each is known to belong to its message (k, n): RETURNING could only
		// give back the row, and msg_ids need not be unique. Drawn in order,
		// they follow the messages' order, as separate inserts would.
		// outbox_seq_seq is the sequence of the bigserial outbox.seq, found
		// through the search_path like the tables.
		q += `, ob AS (
	SELECT nextval('outbox_seq_seq') AS seq, x.*
	FROM ` + unnest("bigint[]", "text[]", "text[]", "text[]", "int[]", "jsonb[]", "bytea[]", "timestamptz[]", "timestamptz[]") + `
		WITH ORDINALITY AS x(k, run_id, queue, msg_id, priority, headers, body, deliver_at, claimed_until, n)
	` + joinU("u.ord = x.k") + `
	ORDER BY x.n
), o AS (
	INSERT INTO outbox (seq, run_id, queue, msg_id, priority, headers, body, deliver_at, claimed_until)
	SELECT seq, run_id, queue, msg_id, priority, headers, body, coalesce(deliver_at, now()), claimed_until FROM ob
)`
		if single {
			seqs = "array(SELECT seq FROM ob ORDER BY n)"
		} else {
			seqs = "s.seqs"
			seqsJoin = `
LEFT JOIN (SELECT k, array_agg(seq ORDER BY n) AS seqs FROM ob GROUP BY k) AS s ON s.k = p.ord`
		}
	}
	if variant&roundHuman != 0 {
		q += `, h AS (
	` + humanUpsert(param("jsonb"), joinU("u.id = x.run_id")) + `
)`
	}
	if variant&roundDelete != 0 {
		if single {
			q += `, d AS (
	DELETE FROM outbox WHERE seq = ANY(` + param("bigint[]") + `) AND EXISTS (SELECT FROM u)
)`
		} else {
			// The seqs to delete are collected first so that outbox is read
			// through its primary key, however few rows the planner expects.
			q += `, d AS (
	DELETE FROM outbox WHERE seq = ANY(ARRAY(
		SELECT x.seq FROM ` + unnest("bigint[]", "bigint[]") + ` AS x(k, seq)` + joinU("u.ord = x.k") + `))
)`
		}
	}
	// The stored version is read only for the updates that did not apply
	// (coalesce stops at the first non-null argument), through the primary
	// key.
	if single {
		return `WITH` + q[1:] + `
SELECT 1::bigint, coalesce((SELECT u.version FROM u), (SELECT r.version FROM runs r WHERE r.id = $1::text), 0),
	EXISTS (SELECT FROM u), ` + seqs
	}
	return `WITH` + q[1:] + `
SELECT p.ord, coalesce(u.version, (SELECT r.version FROM runs r WHERE r.id = p.id), 0), u.ord IS NOT NULL, ` + seqs + `
FROM unnest($1::text[]) WITH ORDINALITY AS p(id, ord)
LEFT JOIN u ON u.ord = p.ord` + seqsJoin
}

// RunUpdateMany implements [state.BatchUpdater] in one round trip and one
// transaction: the updates are split into rounds of distinct runs (see
// batchRounds), each round is one roundSQL statement, and the statements are
// sent as one pgx batch, which the server runs as one implicit transaction.
// A later round sees the earlier ones' writes, so updates of one run apply in
// order. Usually the whole batch is one round, so N updates cost one
// statement (and planSQL) instead of N. Any error from the server
// rolls back the whole batch and is returned for every update.
func (s *Store) RunUpdateMany(ctx context.Context, ps []*state.RunUpdateParams) ([]int64, []error) {
	return s.runUpdateMany(ctx, ps, nil)
}

var _ state.PreCommitter = (*Store)(nil)

// RunUpdateManyThen implements [state.PreCommitter]: the batch opens an
// explicit transaction, and then runs between the batch's round trip and the
// COMMIT's, which the server answers once the commit is flushed. One round
// trip more than RunUpdateMany, but what then starts (the scheduler's
// publishes) overlaps the flush.
func (s *Store) RunUpdateManyThen(ctx context.Context, ps []*state.RunUpdateParams, then func(ctx context.Context, applied []bool) error) ([]int64, []error) {
	if then == nil {
		then = func(context.Context, []bool) error { return nil }
	}
	return s.runUpdateMany(ctx, ps, then)
}

// runUpdateMany is RunUpdateMany, calling then (when not nil) before the
// commit.
func (s *Store) runUpdateMany(ctx context.Context, ps []*state.RunUpdateParams, then func(ctx context.Context, applied []bool) error) ([]int64, []error) {
	if len(ps) == 0 {
		return make([]int64, len(ps)), make([]error, len(ps))
	}
	b := &pgx.Batch{}
	if then != nil {
		b.Queue("BEGIN")
	}
	b.Queue(planSQL)
	res, err := queueRounds(b, ps, us(time.Now()))
	if err != nil {
		return failAll(ps, err)
	}
	// Results read before an error were rolled back with the rest.
	if then == nil {
		err = s.pool.SendBatch(ctx, b).Close()
	} else {
		_, err = s.sendThen(ctx, b, func(ctx context.Context) error {
			applied := make([]bool, len(ps))
			for i, r := range res {
				applied[i] = r.ok
			}
			return then(ctx, applied)
		}, "")
	}
	if err != nil {
		return failAll(ps, s.interpret(err))
	}
	return settleRounds(ps, res)
}

// failAll returns err for every update of ps.
func failAll(ps []*state.RunUpdateParams, err error) ([]int64, []error) {
	err = fmt.Errorf("statepg: RunUpdateMany: %w", err)
	errs := make([]error, len(ps))
	for i := range ps {
		errs[i] = err
	}
	return make([]int64, len(ps)), errs
}

// roundResult is one update's row from its round statement.
type roundResult struct {
	version int64 // 0: the run does not exist
	ok      bool
	seqs    []int64
}

// queueRounds queues on b the round statements (roundSQL) that apply ps in
// order; reading the batch fills the returned results.
func queueRounds(b *pgx.Batch, ps []*state.RunUpdateParams, now time.Time) ([]roundResult, error) {
	res := make([]roundResult, len(ps))
	for _, round := range batchRounds(ps) {
		// Runs in ID order: two schedulers' group commits that share runs
		// (the branches of one fan-out) then lock their rows in the same
		// order and cannot deadlock. A round's updates commute.
		slices.SortFunc(round, func(i, j int) int { return strings.Compare(ps[i].ID, ps[j].ID) })
		variant, args, err := roundArgs(ps, round, now)
		if err != nil {
			return nil, err
		}
		b.Queue(roundSQL[variant], args...).Query(func(rows pgx.Rows) error {
			defer rows.Close()
			n := 0
			for rows.Next() {
				var (
					ord int64
					r   roundResult
				)
				if err := rows.Scan(&ord, &r.version, &r.ok, &r.seqs); err != nil {
					return err
				}
				if ord < 1 || ord > int64(len(round)) {
					return fmt.Errorf("result for update %d of a round of %d", ord, len(round))
				}
				res[round[ord-1]] = r
				n++
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if n != len(round) {
				return fmt.Errorf("%d results for a round of %d updates", n, len(round))
			}
			return nil
		})
	}
	return res, nil
}

// settleRounds returns each update's new version or error from its
// committed round result, and sets the seqs of its outbox messages.
func settleRounds(ps []*state.RunUpdateParams, res []roundResult) ([]int64, []error) {
	versions := make([]int64, len(ps))
	errs := make([]error, len(ps))
	for i, p := range ps {
		r := res[i]
		switch {
		case r.version == 0:
			errs[i] = fmt.Errorf("statepg: RunUpdateMany %s: %w", p.ID, state.ErrNotFound)
		case !r.ok:
			errs[i] = fmt.Errorf("statepg: RunUpdateMany %s: expected version %d, have %d: %w",
				p.ID, p.ExpectedVersion, r.version, state.ErrConflict)
		case len(r.seqs) != len(p.Outbox):
			// Cannot happen: every message of an applied update is
			// inserted. Report it rather than leave Seqs unset; the rows
			// stay in the outbox for the relay.
			return failAll(ps, fmt.Errorf("update %s committed with %d outbox seqs for %d messages", p.ID, len(r.seqs), len(p.Outbox)))
		default:
			versions[i] = r.version
			for j, seq := range r.seqs {
				p.Outbox[j].Seq = seq
			}
		}
	}
	return versions, errs
}

// batchRounds splits ps into rounds, as lists of indexes in batch order, that
// one statement each can apply with the semantics of applying ps in order.
// One statement sees one snapshot and may upsert a row only once, so two
// updates that touch the same row go in different rounds: those of one run
// (the run row and its attempts) and those naming one human task (a global
// key). An update goes in the round after the latest earlier one it shares
// such a row with; the others commute (outbox inserts, deletes of rows
// published before the batch), so reordering them changes nothing.
func batchRounds(ps []*state.RunUpdateParams) [][]int {
	at := make([]int, len(ps))
	runs := make(map[string]int, len(ps)) // run ID -> round of its last update
	var tasks map[string]int              // human task ID -> round of its last update
	n := 1
	for i, p := range ps {
		r := 0
		if last, ok := runs[p.ID]; ok {
			r = last + 1
		}
		for _, t := range p.HumanTasks {
			if last, ok := tasks[t.ID]; ok && t.ID != "" {
				r = max(r, last+1)
			}
		}
		runs[p.ID] = r
		for _, t := range p.HumanTasks {
			// A missing ID becomes a fresh UUID, which nothing else names.
			if t.ID != "" {
				if tasks == nil {
					tasks = map[string]int{}
				}
				tasks[t.ID] = r
			}
		}
		at[i] = r
		n = max(n, r+1)
	}
	if n == 1 {
		all := make([]int, len(ps))
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	rounds := make([][]int, n)
	for i, r := range at {
		rounds[r] = append(rounds[r], i)
	}
	return rounds
}

// roundArgs returns the variant of roundSQL and its arguments (see
// buildRoundSQL) for the updates ps[i], i in round. It assigns missing human
// task IDs in ps, as RunUpdate does.
func roundArgs(ps []*state.RunUpdateParams, round []int, now time.Time) (int, []any, error) {
	if len(round) == 1 {
		return singleArgs(ps[round[0]], now)
	}
	n := len(round)
	var (
		ids      = make([]string, n)
		expected = make([]int64, n)
		statuses = make([]string, n)
		states   = make([][]byte, n) // nil: NULL, keep
		outputs  = make([][]byte, n)
		errTexts = make([]string, n)
		finished = make([]bool, n)
		recs     []attemptRec
		ob       outboxCols
		human    []humanRec
		delOrds  []int64
		delSeqs  []int64
	)
	for k, i := range round {
		p := ps[i]
		ord := int64(k + 1)
		ids[k], expected[k], statuses[k] = p.ID, p.ExpectedVersion, p.Status
		states[k], outputs[k], errTexts[k], finished[k] = p.State, p.Output, p.Error, p.Finished
		if len(p.Attempts) > 0 {
			recs = append(recs, attemptRecs(p.ID, p.Attempts)...)
		}
		if err := ob.add(ord, p.ID, p.Outbox); err != nil {
			return 0, nil, err
		}
		if len(p.HumanTasks) > 0 {
			human = append(human, humanRecs(p.ID, p.HumanTasks, now)...)
		}
		for _, seq := range p.OutboxDelete {
			delOrds, delSeqs = append(delOrds, ord), append(delSeqs, seq)
		}
	}
	args := []any{ids, expected, statuses, states, outputs, errTexts, finished, now}
	variant := 0
	if len(recs) > 0 {
		variant |= roundAttempts
		var at attemptCols
		at.add(sortAttempts(recs))
		args = append(args, at.runID, at.stepID, at.iteration, at.attempt, at.status, at.input, at.output,
			at.errText, at.workerID, at.startedAt, at.finishedAt)
	}
	if len(ob.ord) > 0 {
		variant |= roundOutbox
		args = append(args, ob.ord, ob.runID, ob.queue, ob.msgID, ob.priority, ob.headers, ob.body, ob.deliverAt, ob.claimed)
	}
	if len(human) > 0 {
		js, err := json.Marshal(human)
		if err != nil {
			return 0, nil, err
		}
		variant |= roundHuman
		args = append(args, js)
	}
	if len(delSeqs) > 0 {
		variant |= roundDelete
		args = append(args, delOrds, delSeqs)
	}
	return variant, args, nil
}

// singleArgs is roundArgs for a round of the one update p: its values as
// scalars, and its one attempt row or one message as scalars too.
func singleArgs(p *state.RunUpdateParams, now time.Time) (int, []any, error) {
	args := []any{p.ID, p.ExpectedVersion, p.Status, nilIfEmpty(p.State), nilIfEmpty(p.Output), p.Error, p.Finished, now}
	variant := roundSingle
	if len(p.Attempts) > 0 {
		variant |= roundAttempts
		recs := sortAttempts(attemptRecs(p.ID, p.Attempts))
		if len(recs) == 1 {
			r := recs[0]
			variant |= roundAttemptOne
			args = append(args, r.StepID, r.Iteration, r.Attempt, r.Status, nilIfEmpty(r.Input), nilIfEmpty(r.Output),
				r.Error, r.WorkerID, r.StartedAt, r.FinishedAt)
		} else {
			var at attemptCols
			at.add(recs)
			args = append(args, at.runID, at.stepID, at.iteration, at.attempt, at.status, at.input, at.output,
				at.errText, at.workerID, at.startedAt, at.finishedAt)
		}
	}
	if len(p.Outbox) > 0 {
		variant |= roundOutbox
		var ob outboxCols
		if err := ob.add(1, p.ID, p.Outbox); err != nil {
			return 0, nil, err
		}
		if len(p.Outbox) == 1 {
			variant |= roundOutboxOne
			args = append(args, ob.runID[0], ob.queue[0], ob.msgID[0], ob.priority[0], ob.headers[0], ob.body[0], ob.deliverAt[0], ob.claimed[0])
		} else {
			args = append(args, ob.ord, ob.runID, ob.queue, ob.msgID, ob.priority, ob.headers, ob.body, ob.deliverAt, ob.claimed)
		}
	}
	if len(p.HumanTasks) > 0 {
		js, err := json.Marshal(humanRecs(p.ID, p.HumanTasks, now))
		if err != nil {
			return 0, nil, err
		}
		variant |= roundHuman
		args = append(args, js)
	}
	if len(p.OutboxDelete) > 0 {
		variant |= roundDelete
		args = append(args, p.OutboxDelete)
	}
	return variant, args, nil
}

// sortAttempts orders attempt rows by key, as attemptOrder does on the
// server (byte order, which is collation "C"'s).
//
// Every statement that upserts several attempts writes them in that order
// (attemptOrder; the join that gates them on their run's update may reorder
// them otherwise): two transactions (a group commit and the held-start
// writer, or two schedulers' group commits) that lock the same rows then
// lock them in one order and cannot deadlock.
const attemptOrder = `ORDER BY x.run_id COLLATE "C", x.step_id COLLATE "C", x.iteration, x.attempt`

func sortAttempts(rs []attemptRec) []attemptRec {
	slices.SortFunc(rs, func(a, b attemptRec) int {
		return cmp.Or(strings.Compare(a.RunID, b.RunID), strings.Compare(a.StepID, b.StepID),
			cmp.Compare(a.Iteration, b.Iteration), cmp.Compare(a.Attempt, b.Attempt))
	})
	return rs
}

// attemptCols holds attempt rows as the columns roundSQL unnests; nil
// elements are NULL.
type attemptCols struct {
	runID, stepID, status, errText, workerID []string
	iteration, attempt                       []int
	input, output                            [][]byte
	startedAt, finishedAt                    []*time.Time
}

// add appends rs, merged per key by attemptRecs: a statement may upsert a
// row only once. An empty input or output is NULL (keep), as attemptRec's
// omitempty makes it for RunUpdate.
func (c *attemptCols) add(rs []attemptRec) {
	for _, r := range rs {
		c.runID, c.stepID = append(c.runID, r.RunID), append(c.stepID, r.StepID)
		c.iteration, c.attempt = append(c.iteration, r.Iteration), append(c.attempt, r.Attempt)
		c.status, c.errText, c.workerID = append(c.status, r.Status), append(c.errText, r.Error), append(c.workerID, r.WorkerID)
		c.input, c.output = append(c.input, nilIfEmpty(r.Input)), append(c.output, nilIfEmpty(r.Output))
		c.startedAt, c.finishedAt = append(c.startedAt, r.StartedAt), append(c.finishedAt, r.FinishedAt)
	}
}

// outboxCols holds outbox rows as the columns roundSQL unnests, each with its
// update's ord; nil elements are NULL.
type outboxCols struct {
	ord                 []int64
	runID, queue, msgID []string
	priority            []int
	headers, body       [][]byte
	deliverAt, claimed  []*time.Time
}

// add appends the messages of the update ord of run runID, with the values
// RunUpdate writes for them (outboxRecs): the update's run when RunID is
// empty, NULL headers and body when empty, and NULL (now) for a zero
// DeliverAt.
func (c *outboxCols) add(ord int64, runID string, ms []state.OutboxMessage) error {
	for _, m := range ms {
		var headers, body []byte
		if len(m.Headers) > 0 {
			headers = jsonx.AppendStringMap(nil, m.Headers)
		}
		if len(m.Body) > 0 {
			body = m.Body
		}
		c.ord, c.runID = append(c.ord, ord), append(c.runID, cmp.Or(m.RunID, runID))
		c.queue, c.msgID, c.priority = append(c.queue, m.Queue), append(c.msgID, m.MsgID), append(c.priority, m.Priority)
		c.headers, c.body = append(c.headers, headers), append(c.body, body)
		c.deliverAt, c.claimed = append(c.deliverAt, usOrNil(m.DeliverAt)), append(c.claimed, usOrNil(m.ClaimedUntil))
	}
	return nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// sendThen sends b, which opens a transaction, on one connection, calls then
// and commits; any error rolls the transaction back. With relock (a run ID),
// a new transaction then locks that run and is returned (see finish).
func (s *Store) sendThen(ctx context.Context, b *pgx.Batch, then func(ctx context.Context) error, relock string) (*runLock, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, s.abandon(ctx, conn, err)
	}
	if err := then(ctx); err != nil {
		return nil, s.abandon(ctx, conn, err)
	}
	// The commit outlives the caller's cancellation: what then did (the
	// publishes) assumes it.
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return s.finish(c, conn, relock)
}

// abandon rolls back conn's transaction, if one is open, and releases conn;
// a connection whose transaction cannot be ended is closed, so the pool
// never hands it out mid-transaction. It returns cause.
func (s *Store) abandon(ctx context.Context, conn *pgxpool.Conn, cause error) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if conn.Conn().PgConn().TxStatus() != 'I' {
		if _, err := conn.Exec(c, "ROLLBACK"); err != nil {
			_ = conn.Conn().Close(c)
		}
	}
	conn.Release()
	return cause
}

// holdSQL prepares a transaction that holds a run locked: the planner
// options of planSQL for the update it will carry, and a bound on how long
// it may sit idle, in case its scheduler stalls without dying (a dead one's
// connection closes, which ends it).
const holdSQL = planSQL + `,
	set_config('idle_in_transaction_session_timeout', '10s', true)`

// lockSQL locks a run's row for its next update, unless another
// transaction holds it: waiting would hold up the commit it is sent with.
const lockSQL = `SELECT version FROM runs WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED`

// errNotCommitted: COMMIT ended a failed transaction.
var errNotCommitted = errors.New("transaction rolled back at COMMIT")

// finish commits conn's open transaction and, with relock (a run ID), opens
// a new one that locks the run, in the same round trip. It returns that
// lock, or nil (no relock, or the run was held by another transaction), and
// releases conn unless the lock keeps it. An error means nothing was
// committed.
func (s *Store) finish(ctx context.Context, conn *pgxpool.Conn, relock string) (*runLock, error) {
	b := &pgx.Batch{}
	committed := false
	b.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return fmt.Errorf("%w (%s)", errNotCommitted, tag)
		}
		committed = true
		return nil
	})
	var (
		version int64
		locked  bool
	)
	if relock != "" {
		b.Queue("BEGIN")
		b.Queue(holdSQL)
		b.Queue(lockSQL, relock).Query(func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				if err := rows.Scan(&version); err != nil {
					return err
				}
				locked = true
			}
			return rows.Err()
		})
	}
	err := conn.SendBatch(ctx, b).Close()
	switch {
	case !committed:
		return nil, s.abandon(ctx, conn, cmp.Or(err, errNotCommitted))
	case err != nil || !locked:
		// Committed; only the new lock failed (or was not asked for).
		return nil, s.abandon(ctx, conn, nil)
	}
	return &runLock{s: s, conn: conn, runID: relock, version: version}, nil
}

var _ state.RunLocker = (*Store)(nil)

// RunUpdateThenLock implements [state.RunLocker].
func (s *Store) RunUpdateThenLock(ctx context.Context, p *state.RunUpdateParams, then func(ctx context.Context, applied bool) error) (int64, state.RunLock, error) {
	ps := []*state.RunUpdateParams{p}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(planSQL)
	res, err := queueRounds(b, ps, us(time.Now()))
	if err != nil {
		return 0, nil, fmt.Errorf("statepg: RunUpdateThenLock: %w", err)
	}
	lock, err := s.sendThen(ctx, b, func(ctx context.Context) error { return then(ctx, res[0].ok) }, p.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("statepg: RunUpdateThenLock: %w", s.interpret(err))
	}
	return settleLocked(ps, res, lock)
}

// settleLocked is settleRounds for one update committed with lock.
func settleLocked(ps []*state.RunUpdateParams, res []roundResult, lock *runLock) (int64, state.RunLock, error) {
	versions, errs := settleRounds(ps, res)
	if errs[0] != nil || lock == nil {
		if lock != nil {
			lock.Release(context.Background())
		}
		return versions[0], nil, errs[0]
	}
	return versions[0], lock, nil
}

// runLock implements [state.RunLock].
type runLock struct {
	s       *Store
	conn    *pgxpool.Conn
	runID   string
	version int64
}

func (l *runLock) Version() int64 { return l.version }

func (l *runLock) Write(ctx context.Context, p *state.RunUpdateParams) (int64, error) {
	if l.conn == nil {
		return 0, errors.New("statepg: RunLock used after Commit or Release")
	}
	ps := []*state.RunUpdateParams{p}
	b := &pgx.Batch{}
	res, err := queueRounds(b, ps, us(time.Now()))
	if err == nil {
		err = l.s.interpret(l.conn.SendBatch(ctx, b).Close())
	}
	if err != nil {
		return 0, fmt.Errorf("statepg: RunLock.Write: %w", err)
	}
	versions, errs := settleRounds(ps, res)
	if errs[0] != nil {
		return 0, errs[0]
	}
	l.version = versions[0]
	return l.version, nil
}

func (l *runLock) Commit(ctx context.Context, relock bool) (int64, state.RunLock, error) {
	conn := l.conn
	l.conn = nil
	if conn == nil {
		return 0, nil, errors.New("statepg: RunLock used after Commit or Release")
	}
	again := ""
	if relock {
		again = l.runID
	}
	// The commit outlives the caller's cancellation: the scheduler has
	// published the tasks of what it commits.
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	lock, err := l.s.finish(c, conn, again)
	if err != nil {
		return 0, nil, fmt.Errorf("statepg: RunLock.Commit: %w", l.s.interpret(err))
	}
	if lock == nil {
		return l.version, nil, nil
	}
	return l.version, lock, nil
}

func (l *runLock) Release(ctx context.Context) {
	if conn := l.conn; conn != nil {
		l.conn = nil
		_ = l.s.abandon(ctx, conn, nil)
	}
}

// commitTimeout bounds a COMMIT that sendThen sends whatever the caller's
// context says.
const commitTimeout = 30 * time.Second
