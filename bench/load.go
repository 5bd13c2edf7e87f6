package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec shapes one load phase: Clients workers call the operation in a
// loop, first for Warmup (results dropped), then until Duration passes or,
// when Count is positive, until Count operations have been started.
type loadSpec struct {
	Clients  int
	Duration time.Duration
	Warmup   time.Duration
	Count    int
}

// opFunc runs one operation for worker w.
type opFunc func(ctx context.Context, w int) error

// loadResult is what one measured phase produced.
type loadResult struct {
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	MeanMS     float64 `json:"mean_ms"`
	P50MS      float64 `json:"p50_ms"`
	P90MS      float64 `json:"p90_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
}

// runLoad runs the warm-up, calls beforeMeasure (to reset the emulator's
// counters), then runs the measured phase. Only successful operations count
// towards the throughput and the latencies.
func runLoad(ctx context.Context, spec loadSpec, op opFunc, beforeMeasure func() error) (loadResult, error) {
	if spec.Clients < 1 {
		return loadResult{}, errors.New("clients must be at least 1")
	}
	if spec.Warmup > 0 {
		w := drive(ctx, spec.Clients, spec.Warmup, 0, op)
		if w.ops == 0 && w.errors > 0 {
			return loadResult{}, fmt.Errorf("every warm-up operation failed (%d), first: %s", w.errors, w.firstErr)
		}
	}
	if beforeMeasure != nil {
		if err := beforeMeasure(); err != nil {
			return loadResult{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}
	d := drive(ctx, spec.Clients, spec.Duration, spec.Count, op)
	r := loadResult{Ops: d.ops, Errors: d.errors, FirstError: d.firstErr, Seconds: d.elapsed.Seconds()}
	if d.elapsed > 0 {
		r.PerSecond = float64(d.ops) / d.elapsed.Seconds()
	}
	if len(d.lat) > 0 {
		slices.Sort(d.lat)
		var sum time.Duration
		for _, l := range d.lat {
			sum += l
		}
		r.MeanMS = ms(sum / time.Duration(len(d.lat)))
		r.P50MS = ms(percentile(d.lat, 0.50))
		r.P90MS = ms(percentile(d.lat, 0.90))
		r.P99MS = ms(percentile(d.lat, 0.99))
		r.MaxMS = ms(d.lat[len(d.lat)-1])
	}
	return r, nil
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// percentile returns the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

type driveResult struct {
	ops, errors int
	firstErr    string
	elapsed     time.Duration
	lat         []time.Duration
}

// drive runs clients workers until d passes (or count operations started).
func drive(ctx context.Context, clients int, d time.Duration, count int, op opFunc) driveResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		started  atomic.Int64
		mu       sync.Mutex
		out      driveResult
		wg       sync.WaitGroup
		deadline = time.Now().Add(d)
	)
	if count > 0 {
		deadline = time.Now().Add(24 * time.Hour)
	}
	begin := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			var errs int
			var first string
			for ctx.Err() == nil {
				if count > 0 && started.Add(1) > int64(count) {
					break
				}
				t0 := time.Now()
				if t0.After(deadline) {
					break
				}
				err := op(ctx, w)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			out.ops += len(lat)
			out.errors += errs
			if out.firstErr == "" {
				out.firstErr = first
			}
			out.lat = append(out.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(begin)
	return out
}
