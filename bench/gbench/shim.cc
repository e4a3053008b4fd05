// SPDX-License-Identifier: BSD-3-Clause
//
// The one C++ file of bulk-gbench: registers every C body of bb_bodies[]
// with Google Benchmark, reports items (buffers) and bytes, and after the
// table prints libbulk/rte_ring ratios of time per buffer against the
// project's targets. No libbulk call is made from here (STYLE.md point 11).

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "bodies.h"

namespace {

// Iterations handed to a C body per call: large enough that the indirect
// call into it is noise next to the work, small enough for short runs.
constexpr benchmark::IterationCount kBatch = 64;

// A body that failed its own checks makes the binary exit 1 (the smoke
// test in CI relies on it; timings are never asserted).
bool g_body_failed = false;

void
run_body(benchmark::State &state, const struct bb_body *b)
{
	struct bb_ctx ctx;
	uint64_t items = 0;

	std::memset(&ctx, 0, sizeof(ctx));
	b->setup(&ctx, &b->args);
	if (ctx.err != 0) {
		g_body_failed = true;
		state.SkipWithError(ctx.errmsg);
		b->teardown(&ctx);
		return;
	}
	while (state.KeepRunningBatch(kBatch)) {
		uint64_t got = b->run(&ctx, static_cast<uint64_t>(kBatch));

		if (got == 0) {
			g_body_failed = true;
			state.SkipWithError(ctx.errmsg[0] != '\0' ? ctx.errmsg : "body failed");
			break;
		}
		items += got;
	}
	state.SetItemsProcessed(static_cast<int64_t>(items));
	if (b->bytes_per_item != 0)
		state.SetBytesProcessed(static_cast<int64_t>(items * b->bytes_per_item));
	b->teardown(&ctx);
}

const struct bb_body *
find_body(const std::string &name)
{
	for (const struct bb_body *b = bb_bodies; b->name != nullptr; b++)
		if (name == b->name)
			return b;
	return nullptr;
}

// The console table as usual, plus a record of real time per buffer of
// every run, so that Finalize() can print the ratios the targets are on.
// Real time, not CPU time: both ends are in this one thread, so they agree,
// and real time is what a latency target means.
class RatioReporter : public benchmark::ConsoleReporter {
public:
	explicit RatioReporter(OutputOptions o) : benchmark::ConsoleReporter(o) {}

	void
	ReportRuns(const std::vector<Run> &runs) override
	{
		for (const Run &r : runs)
			record(r);
		benchmark::ConsoleReporter::ReportRuns(runs);
	}

	void
	Finalize() override
	{
		std::ostream &out = GetOutputStream();
		char line[256];

		out << "\n";
		if (!bb_have_ring) {
			out << "rte_ring peer not built (libdpdk not found): no ratios\n";
			return;
		}
		for (const struct bb_ratio *q = bb_ratios; q->label != nullptr; q++) {
			double lb, rt, lbc, rtc;

			if (!per_item(q->bulk_name, &lb, &lbc) || !per_item(q->ring_name, &rt, &rtc)) {
				out << "ratio " << q->label
				    << ": not measured (filtered out or failed)\n";
				continue;
			}
			std::snprintf(line, sizeof(line),
				      "ratio %s: libbulk %.2f ns / rte_ring %.2f ns = %.2fx "
				      "(target <= %.2f) %s [cpu time: %.2f / %.2f = %.2fx]\n",
				      q->label, lb, rt, lb / rt, q->target,
				      lb / rt <= q->target ? "ok" : "MISSED", lbc, rtc, lbc / rtc);
			out << line;
		}
		out.flush();
	}

private:
	// ns per buffer, real and CPU time. CPU time is printed beside the
	// ratio because on a shared machine real time also counts the time
	// the thread was descheduled.
	struct Figures {
		std::vector<double> reps, reps_cpu; // each repetition
		double median = -1, median_cpu = -1; // the "median" aggregate, when reported
	};
	std::map<std::string, Figures> figs_;

	void
	record(const Run &r)
	{
		const std::string &name = r.run_name.function_name;
		const struct bb_body *b = find_body(name);

		if (b == nullptr || r.error_occurred || r.iterations == 0)
			return;
		// Time per iteration in ns (the default unit), each iteration burst buffers.
		double ns = r.GetAdjustedRealTime() * unit_to_ns(r.time_unit) / b->args.burst;
		double cpu = r.GetAdjustedCPUTime() * unit_to_ns(r.time_unit) / b->args.burst;
		Figures &f = figs_[name];

		if (r.run_type == Run::RT_Aggregate) {
			if (r.aggregate_name == "median") {
				f.median = ns;
				f.median_cpu = cpu;
			}
		} else {
			f.reps.push_back(ns);
			f.reps_cpu.push_back(cpu);
		}
	}

	static double
	median_of(std::vector<double> v)
	{
		std::sort(v.begin(), v.end());
		return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
	}

	bool
	per_item(const char *name, double *ns, double *cpu)
	{
		auto it = figs_.find(name);

		if (it == figs_.end())
			return false;
		if (it->second.median >= 0) {
			*ns = it->second.median;
			*cpu = it->second.median_cpu;
			return true;
		}
		if (it->second.reps.empty())
			return false;
		*ns = median_of(it->second.reps);
		*cpu = median_of(it->second.reps_cpu);
		return true;
	}

	static double
	unit_to_ns(benchmark::TimeUnit u)
	{
		switch (u) {
		case benchmark::kNanosecond: return 1;
		case benchmark::kMicrosecond: return 1e3;
		case benchmark::kMillisecond: return 1e6;
		case benchmark::kSecond: return 1e9;
		}
		return 1;
	}
};

// The ratio block only makes sense under the console table; with another
// --benchmark_format the library's own reporter is used and no ratios.
bool
console_format(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (std::strncmp(argv[i], "--benchmark_format=", 19) == 0 &&
		    std::strcmp(argv[i] + 19, "console") != 0)
			return false;
	return true;
}

} // namespace

int
main(int argc, char **argv)
{
	for (const struct bb_body *b = bb_bodies; b->name != nullptr; b++)
		benchmark::RegisterBenchmark(b->name, run_body, b)->UseRealTime();

	bool console = console_format(argc, argv);

	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	if (console) {
		RatioReporter rep(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
							: benchmark::ConsoleReporter::OO_Tabular);

		benchmark::RunSpecifiedBenchmarks(&rep);
	} else {
		benchmark::RunSpecifiedBenchmarks();
	}
	benchmark::Shutdown();
	return g_body_failed ? 1 : 0;
}
