// Package refsteps implements, in Go, the step classes named by the IA
// Modules reference sample pipelines (simple_pipeline, conditional_pipeline,
// parallel_pipeline, loop_pipeline and simple_hitl_pipeline), under the same
// step_class names. Their Python twins live in examples/reference_steps and
// produce the same outputs, so a pipeline gives one result whichever
// implementation runs it.
//
// A registry is keyed by step_class alone, and these classes have generic
// names (Step1, FinalizeStep): register them only in a worker that runs these
// samples, or a pipeline of yours with a class of the same name would run
// them instead of its Python step (Go-registered classes win over the Python
// fallback).
//
//	reg := steps.Builtins()
//	refsteps.Register(reg)
package refsteps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ia-modules/ia-go/pkg/steps"
)

// Register registers every class of the sample pipelines in r. It panics
// when a class is already registered, like [steps.Registry.Register].
func Register(r *steps.Registry) {
	// simple_pipeline
	r.Register("Step1", steps.Typed(prepareTopic))
	r.Register("Step2", steps.Typed(enrichTopic))
	r.Register("Step3", steps.Typed(finalizeTopic))
	// conditional_pipeline
	r.Register("DataIngestorStep", steps.Typed(ingest))
	r.Register("QualityCheckerStep", steps.Typed(checkQuality))
	r.Register("HighQualityProcessorStep", steps.Typed(processFull))
	r.Register("LowQualityProcessorStep", steps.Typed(processBasic))
	r.Register("ResultsAggregatorStep", steps.Typed(aggregate))
	// parallel_pipeline
	r.Register("DataSplitterStep", steps.Typed(split))
	r.Register("StreamProcessorStep", steps.Typed(processStream))
	r.Register("ResultsMergerStep", steps.HandlerFunc(mergeStreams))
	r.Register("CompletedStatsCollectorStep", steps.Typed(collectStats))
	// loop_pipeline
	r.Register("DraftContentStep", steps.Typed(draftContent))
	r.Register("ReviewContentStep", steps.Typed(reviewContent))
	r.Register("PublishContentStep", steps.Typed(publishContent))
	// simple_hitl_pipeline
	r.Register("PrepareDataStep", steps.Typed(prepareData))
	r.Register("SimpleHumanReviewStep", steps.HandlerFunc(askReviewer))
	r.Register("FinalizeStep", steps.Typed(finalizeDecision))
}

// errMissingInput is wrapped by the errors of steps whose required input is
// absent; it is non-retryable, since the same data would fail again.
var errMissingInput = errors.New("missing input")

func missing(in *steps.Input, name string) error {
	return steps.NonRetryable(fmt.Errorf("%s: %w %q", in.StepID, errMissingInput, name))
}

// configInt reads a whole number from a step config (JSON numbers decode as
// float64), or def when the key is absent or not a number.
func configInt(cfg map[string]any, key string, def int) int {
	if f, ok := cfg[key].(float64); ok {
		return int(f)
	}
	return def
}

func configString(cfg map[string]any, key, def string) string {
	if s, ok := cfg[key].(string); ok {
		return s
	}
	return def
}

// ---- simple_pipeline --------------------------------------------------

type topicIn struct {
	Topic    string   `json:"topic"`
	Keywords []string `json:"keywords"`
}

type preparedTopic struct {
	Topic    string `json:"topic"`
	Prepared bool   `json:"prepared"`
}

// prepareTopic (Step1) collapses the topic's whitespace.
func prepareTopic(_ context.Context, in *steps.Input, args topicIn) (preparedTopic, error) {
	topic := strings.Join(strings.Fields(args.Topic), " ")
	if topic == "" {
		return preparedTopic{}, missing(in, "topic")
	}
	return preparedTopic{Topic: topic, Prepared: true}, nil
}

type enrichedTopic struct {
	Topic    string   `json:"topic"`
	Keywords []string `json:"keywords"`
	Enriched bool     `json:"enriched"`
}

// enrichTopic (Step2) adds the topic's distinct lower-case words, sorted.
func enrichTopic(_ context.Context, _ *steps.Input, args topicIn) (enrichedTopic, error) {
	keywords := []string{}
	for _, w := range strings.Fields(args.Topic) {
		keywords = append(keywords, strings.ToLower(w))
	}
	slices.Sort(keywords)
	return enrichedTopic{Topic: args.Topic, Keywords: slices.Compact(keywords), Enriched: true}, nil
}

type finalTopic struct {
	Topic     string `json:"topic"`
	Summary   string `json:"summary"`
	Finalized bool   `json:"finalized"`
}

// finalizeTopic (Step3) summarises the topic and Step2's keywords.
func finalizeTopic(_ context.Context, _ *steps.Input, args topicIn) (finalTopic, error) {
	summary := fmt.Sprintf("%s (%d keywords: %s)", args.Topic, len(args.Keywords), strings.Join(args.Keywords, ", "))
	return finalTopic{Topic: args.Topic, Summary: summary, Finalized: true}, nil
}

// ---- conditional_pipeline ----------------------------------------------

type ingestIn struct {
	TestData []any `json:"test_data"`
}

type ingested struct {
	IngestedData []any `json:"ingested_data"`
	RecordCount  int   `json:"record_count"`
}

// ingest (DataIngestorStep) takes the run's test_data as the records.
func ingest(_ context.Context, in *steps.Input, args ingestIn) (ingested, error) {
	if args.TestData == nil {
		return ingested{}, missing(in, "test_data")
	}
	return ingested{IngestedData: args.TestData, RecordCount: len(args.TestData)}, nil
}

// validRecord: not null or empty and, for an object, no null value.
func validRecord(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		if len(v) == 0 {
			return false
		}
		for _, x := range v {
			if x == nil {
				return false
			}
		}
	}
	return true
}

type qualityIn struct {
	IngestedData []any   `json:"ingested_data"`
	QualityScore float64 `json:"quality_score"`
}

type quality struct {
	IngestedData   []any   `json:"ingested_data"`
	QualityScore   float64 `json:"quality_score"`
	ValidRecords   int     `json:"valid_records"`
	InvalidRecords int     `json:"invalid_records"`
}

// checkQuality (QualityCheckerStep) scores the share of valid records; the
// flow compares quality_score with the threshold parameter.
func checkQuality(_ context.Context, _ *steps.Input, args qualityIn) (quality, error) {
	records := args.IngestedData
	if records == nil {
		records = []any{}
	}
	valid := 0
	for _, r := range records {
		if validRecord(r) {
			valid++
		}
	}
	score := 0.0
	if len(records) > 0 {
		score = float64(valid) / float64(len(records))
	}
	return quality{IngestedData: records, QualityScore: score, ValidRecords: valid, InvalidRecords: len(records) - valid}, nil
}

type record struct {
	Value any  `json:"value"`
	Valid bool `json:"valid"`
}

type processedData struct {
	Records      []record `json:"records"`
	Kept         int      `json:"kept"`
	Discarded    int      `json:"discarded"`
	QualityScore float64  `json:"quality_score"`
}

type processed struct {
	ProcessedData   processedData `json:"processed_data"`
	ProcessingLevel string        `json:"processing_level"`
}

// processFull (HighQualityProcessorStep) keeps every record, flagged.
func processFull(_ context.Context, in *steps.Input, args qualityIn) (processed, error) {
	recs := []record{}
	for _, r := range args.IngestedData {
		recs = append(recs, record{Value: r, Valid: validRecord(r)})
	}
	return processed{
		ProcessedData:   processedData{Records: recs, Kept: len(recs), QualityScore: args.QualityScore},
		ProcessingLevel: configString(in.Config, "processing_level", "full"),
	}, nil
}

// processBasic (LowQualityProcessorStep) keeps only the valid records.
func processBasic(_ context.Context, in *steps.Input, args qualityIn) (processed, error) {
	recs := []record{}
	for _, r := range args.IngestedData {
		if validRecord(r) {
			recs = append(recs, record{Value: r, Valid: true})
		}
	}
	return processed{
		ProcessedData: processedData{Records: recs, Kept: len(recs), Discarded: len(args.IngestedData) - len(recs),
			QualityScore: args.QualityScore},
		ProcessingLevel: configString(in.Config, "processing_level", "basic"),
	}, nil
}

type aggregateIn struct {
	ProcessedData   *processedData `json:"processed_data"`
	ProcessingLevel string         `json:"processing_level"`
}

type aggregatedResults struct {
	ProcessingLevel string  `json:"processing_level"`
	QualityScore    float64 `json:"quality_score"`
	Kept            int     `json:"kept"`
	Discarded       int     `json:"discarded"`
	Values          []any   `json:"values"`
}

type aggregated struct {
	AggregatedResults aggregatedResults `json:"aggregated_results"`
}

// aggregate (ResultsAggregatorStep) summarises whichever branch ran: its
// declared input processed_data takes step3's or step4's.
func aggregate(_ context.Context, in *steps.Input, args aggregateIn) (aggregated, error) {
	p := args.ProcessedData
	if p == nil {
		return aggregated{}, missing(in, "processed_data")
	}
	values := []any{}
	for _, r := range p.Records {
		values = append(values, r.Value)
	}
	return aggregated{AggregatedResults: aggregatedResults{ProcessingLevel: args.ProcessingLevel, QualityScore: p.QualityScore,
		Kept: p.Kept, Discarded: p.Discarded, Values: values}}, nil
}

// ---- parallel_pipeline -------------------------------------------------

type splitIn struct {
	LoadedData []any `json:"loaded_data"`
}

type splitOut struct {
	DataChunks       [][]any `json:"data_chunks"`
	ChunkCount       int     `json:"chunk_count"`
	OriginalDataSize int     `json:"original_data_size"`
}

// split (DataSplitterStep) cuts loaded_data into config.split_count
// (default 3) contiguous chunks of at most ceil(n/split_count) items.
func split(_ context.Context, in *steps.Input, args splitIn) (splitOut, error) {
	if args.LoadedData == nil {
		return splitOut{}, missing(in, "loaded_data")
	}
	n := configInt(in.Config, "split_count", 3)
	if n < 1 {
		return splitOut{}, steps.NonRetryable(fmt.Errorf("%s: split_count must be at least 1, got %d", in.StepID, n))
	}
	items := args.LoadedData
	size := (len(items) + n - 1) / n
	chunks := make([][]any, n)
	for i := range chunks {
		lo, hi := min(i*size, len(items)), min((i+1)*size, len(items))
		chunks[i] = append([]any{}, items[lo:hi]...)
	}
	return splitOut{DataChunks: chunks, ChunkCount: n, OriginalDataSize: len(items)}, nil
}

type streamIn struct {
	DataChunks [][]any `json:"data_chunks"`
}

type streamData struct {
	StreamID       int     `json:"stream_id"`
	ProcessingType string  `json:"processing_type"`
	Items          []any   `json:"items"`
	RecordCount    int     `json:"record_count"`
	Sum            float64 `json:"sum"`
}

type streamOut struct {
	ProcessedData streamData `json:"processed_data"`
}

// processStream (StreamProcessorStep) analyses chunk config.stream_id
// (1-based): counts its items and sums the numbers.
func processStream(_ context.Context, in *steps.Input, args streamIn) (streamOut, error) {
	id := configInt(in.Config, "stream_id", 1)
	chunk := []any{}
	if id > 0 && id <= len(args.DataChunks) && args.DataChunks[id-1] != nil {
		chunk = args.DataChunks[id-1]
	}
	sum := 0.0
	for _, v := range chunk {
		if f, ok := v.(float64); ok {
			sum += f
		}
	}
	return streamOut{ProcessedData: streamData{StreamID: id, ProcessingType: configString(in.Config, "processing_type", "analytics"),
		Items: chunk, RecordCount: len(chunk), Sum: sum}}, nil
}

var streamKey = regexp.MustCompile(`^processed_data_(\d+)$`)

type mergedResults struct {
	StreamCount  int     `json:"stream_count"`
	Streams      []int   `json:"streams"`
	Items        []any   `json:"items"`
	TotalRecords int     `json:"total_records"`
	Total        float64 `json:"total"`
}

// mergeStreams (ResultsMergerStep) is the join: it merges every input named
// processed_data_<n>, in stream order. It reads the map directly because the
// key set is not fixed.
func mergeStreams(_ context.Context, in *steps.Input) (*steps.Output, error) {
	type keyed struct {
		n    int
		data map[string]any
	}
	var found []keyed
	for k, v := range in.Data {
		m := streamKey.FindStringSubmatch(k)
		data, ok := v.(map[string]any)
		if m == nil || !ok {
			continue
		}
		var n int
		_, _ = fmt.Sscan(m[1], &n)
		found = append(found, keyed{n, data})
	}
	slices.SortFunc(found, func(a, b keyed) int { return cmp.Compare(a.n, b.n) })
	res := mergedResults{Streams: []int{}, Items: []any{}}
	for _, s := range found {
		res.StreamCount++
		id, _ := s.data["stream_id"].(float64)
		res.Streams = append(res.Streams, int(id))
		items, _ := s.data["items"].([]any)
		res.Items = append(res.Items, items...)
		count, _ := s.data["record_count"].(float64)
		res.TotalRecords += int(count)
		sum, _ := s.data["sum"].(float64)
		res.Total += sum
	}
	return &steps.Output{Data: map[string]any{"merged_results": res}}, nil
}

type statsIn struct {
	MergedResults    mergedResults `json:"merged_results"`
	OriginalDataSize *int          `json:"original_data_size"`
}

type statistics struct {
	Streams      int     `json:"streams"`
	TotalRecords int     `json:"total_records"`
	Total        float64 `json:"total"`
	Mean         float64 `json:"mean"`
	Complete     bool    `json:"complete"`
}

type statsOut struct {
	Statistics statistics `json:"statistics"`
}

// collectStats (CompletedStatsCollectorStep) summarises the merged streams.
func collectStats(_ context.Context, _ *steps.Input, args statsIn) (statsOut, error) {
	m := args.MergedResults
	s := statistics{Streams: m.StreamCount, TotalRecords: m.TotalRecords, Total: m.Total,
		Complete: args.OriginalDataSize != nil && *args.OriginalDataSize == m.TotalRecords}
	if m.TotalRecords > 0 {
		s.Mean = m.Total / float64(m.TotalRecords)
	}
	return statsOut{Statistics: s}, nil
}

// ---- loop_pipeline -----------------------------------------------------

type draftIn struct {
	Topic         string `json:"topic"`
	RevisionCount int    `json:"revision_count"`
	Feedback      string `json:"feedback"`
}

type draftOut struct {
	Draft         string `json:"draft"`
	RevisionCount int    `json:"revision_count"`
}

// draftContent (DraftContentStep) writes the next revision; on a rewrite the
// merged view holds the previous revision_count and the review's feedback.
func draftContent(_ context.Context, in *steps.Input, args draftIn) (draftOut, error) {
	if args.Topic == "" {
		return draftOut{}, missing(in, "topic")
	}
	rev := args.RevisionCount + 1
	draft := fmt.Sprintf("Draft v%d about %s", rev, args.Topic)
	if rev > 1 && args.Feedback != "" {
		draft += fmt.Sprintf(" (revised after: %s)", args.Feedback)
	}
	return draftOut{Draft: draft, RevisionCount: rev}, nil
}

type reviewIn struct {
	RevisionCount int `json:"revision_count"`
	MaxRevisions  int `json:"max_revisions"`
}

type reviewOut struct {
	Approved     bool   `json:"approved"`
	Feedback     string `json:"feedback"`
	QualityScore int    `json:"quality_score"`
}

// reviewContent (ReviewContentStep) scores revision n as 50+15n (65, 80,
// ...), capped at 100, and approves from config.approval_threshold (default
// 75), or at max_revisions (config, else the run input, else 5).
func reviewContent(_ context.Context, in *steps.Input, args reviewIn) (reviewOut, error) {
	rev := cmp.Or(args.RevisionCount, 1)
	score := min(100, 50+15*rev)
	threshold := configInt(in.Config, "approval_threshold", 75)
	maxRevisions := cmp.Or(configInt(in.Config, "max_revisions", 0), args.MaxRevisions, 5)
	out := reviewOut{Approved: score >= threshold || rev >= maxRevisions, QualityScore: score}
	switch {
	case score >= threshold:
		out.Feedback = "good to publish"
	case out.Approved:
		out.Feedback = "published at the revision limit"
	default:
		out.Feedback = fmt.Sprintf("needs more depth (score %d, wants %d)", score, threshold)
	}
	return out, nil
}

type publishIn struct {
	Draft         string `json:"draft"`
	Topic         string `json:"topic"`
	RevisionCount int    `json:"revision_count"`
	QualityScore  any    `json:"quality_score"`
}

type publishOut struct {
	PublishedURL string `json:"published_url"`
	FinalDraft   string `json:"final_draft"`
	QualityScore any    `json:"quality_score"`
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// publishContent (PublishContentStep) publishes the approved draft.
func publishContent(_ context.Context, in *steps.Input, args publishIn) (publishOut, error) {
	if args.Draft == "" {
		return publishOut{}, missing(in, "draft")
	}
	slug := cmp.Or(strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(args.Topic), "-"), "-"), "untitled")
	url := fmt.Sprintf("https://content.example.com/%s/v%d", slug, cmp.Or(args.RevisionCount, 1))
	return publishOut{PublishedURL: url, FinalDraft: args.Draft, QualityScore: args.QualityScore}, nil
}

// ---- simple_hitl_pipeline ----------------------------------------------

type prepareIn struct {
	Items []any `json:"items"`
}

type preparedData struct {
	Message   string `json:"message"`
	Items     []any  `json:"items"`
	ItemCount int    `json:"item_count"`
}

type prepareOut struct {
	PreparedData   preparedData `json:"prepared_data"`
	ReadyForReview bool         `json:"ready_for_review"`
}

// prepareData (PrepareDataStep) packages the run's items for the reviewer.
func prepareData(_ context.Context, in *steps.Input, args prepareIn) (prepareOut, error) {
	items := args.Items
	if items == nil {
		items = []any{}
	}
	return prepareOut{PreparedData: preparedData{Message: configString(in.Config, "message", "Preparing data for review"),
		Items: items, ItemCount: len(items)}, ReadyForReview: true}, nil
}

// askReviewer (SimpleHumanReviewStep) pauses the branch; the human's answer
// ({"decision": "approve"|"reject", "comments": ...}) becomes its output.
func askReviewer(_ context.Context, in *steps.Input) (*steps.Output, error) {
	count := 0
	if p, ok := in.Data["prepared_data"].(map[string]any); ok {
		f, _ := p["item_count"].(float64)
		count = int(f)
	}
	req := steps.HumanInputRequest{
		Prompt:         configString(in.Config, "prompt", "Please review the prepared data"),
		TimeoutSeconds: configInt(in.Config, "timeout_seconds", 3600),
		Channels:       []string{"web"},
		UISchema: map[string]any{
			"type":  "review_approval",
			"title": fmt.Sprintf("Review %d item(s)", count),
			"fields": []any{
				map[string]any{"name": "decision", "type": "radio", "label": "Decision", "options": []string{"approve", "reject"}, "required": true},
				map[string]any{"name": "comments", "type": "textarea", "label": "Comments"},
			},
		},
	}
	if chans, ok := in.Config["channels"].([]any); ok {
		req.Channels = toStrings(chans)
	}
	if users, ok := in.Config["assigned_users"].([]any); ok {
		req.AssignedUsers = toStrings(users)
	}
	return steps.RequestHumanInput(req), nil
}

func toStrings(vs []any) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

type decisionIn struct {
	Decision      string `json:"decision"`
	HumanDecision string `json:"human_decision"`
	Comments      string `json:"comments"`
}

type finalOut struct {
	FinalStatus string `json:"final_status"`
	Comments    string `json:"comments"`
	Message     string `json:"message"`
}

// finalizeDecision (FinalizeStep) acts on the human's decision (decision, or
// human_decision as some reference callers send it).
func finalizeDecision(_ context.Context, in *steps.Input, args decisionIn) (finalOut, error) {
	decision := cmp.Or(args.Decision, args.HumanDecision, "unknown")
	status := map[string]string{"approve": "approved", "reject": "rejected"}[decision]
	return finalOut{FinalStatus: cmp.Or(status, decision), Comments: args.Comments,
		Message: fmt.Sprintf("%s: decision %s", configString(in.Config, "message", "Finalized"), decision)}, nil
}
