import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { z } from 'zod';

/** One metric over a window, one-minute buckets. */
export type MetricQuery = {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  stat: 'Sum' | 'Maximum';
};

/** The one-minute datapoints of a metric, oldest first; empty when CloudWatch holds none. */
export type MetricSeries = { at: Date; value: number }[];

const ResultsSchema = z.object({
  MetricDataResults: z
    .array(
      z.object({
        Id: z.string(),
        Timestamps: z.array(z.date()).default([]),
        Values: z.array(z.number()).default([]),
        StatusCode: z.string().optional(),
      }),
    )
    .default([]),
  NextToken: z.string().optional(),
});

/** CloudWatch answers at most 500 queries per GetMetricData call. */
const queriesPerCall = 500;

/**
 * Reads each metric's one-minute datapoints between `from` and `to`, in as few calls as CloudWatch
 * allows. A metric with no datapoints (an idle queue, an API nobody called, an emulator that records
 * none) gets an empty series, which callers report as "no datapoints", never as zero.
 */
export async function readMetrics(
  cloudWatch: CloudWatchClient,
  queries: MetricQuery[],
  from: Date,
  to: Date,
): Promise<MetricSeries[]> {
  const series: MetricSeries[] = queries.map(() => []);
  for (let first = 0; first < queries.length; first += queriesPerCall) {
    const batch = queries.slice(first, first + queriesPerCall);
    let nextToken: string | undefined;
    do {
      const answer = ResultsSchema.parse(
        await cloudWatch.send(
          new GetMetricDataCommand({
            StartTime: from,
            EndTime: to,
            NextToken: nextToken,
            ScanBy: 'TimestampAscending',
            MetricDataQueries: batch.map((query, index) => ({
              Id: `m${first + index}`,
              MetricStat: {
                Metric: {
                  Namespace: query.namespace,
                  MetricName: query.metricName,
                  Dimensions: Object.entries(query.dimensions).map(([Name, Value]) => ({ Name, Value })),
                },
                Period: 60,
                Stat: query.stat,
              },
            })),
          }),
        ),
      );
      for (const result of answer.MetricDataResults) {
        const target = series[Number(result.Id.slice(1))];
        if (target === undefined) continue;
        result.Timestamps.forEach((at, index) => {
          const value = result.Values[index];
          if (value !== undefined) target.push({ at, value });
        });
      }
      nextToken = answer.NextToken;
    } while (nextToken !== undefined);
  }
  return series.map((points) => points.sort((a, b) => a.at.getTime() - b.at.getTime()));
}
