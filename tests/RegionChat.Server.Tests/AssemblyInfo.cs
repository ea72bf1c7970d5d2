// The hosts of these tests share one OpenTelemetry meter name and the machine's two cores; running them one at a time
// keeps each server's /metrics its own and "served at once" meaningful.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
