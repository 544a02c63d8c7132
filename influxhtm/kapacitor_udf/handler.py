"""The interface a UDF implements: one Handler per Kapacitor connection."""

from . import udf_pb2


class Handler:
    """Base class for UDF handlers; one instance serves one connection (a task node, or Kapacitor's Info probe).

    All methods are called from the connection's single worker thread, one at a time and in the order the
    requests arrived, so a handler needs no locking of its own for its state. Management methods return their
    response; data goes back through the Emitter given to the handler factory. An exception raised by any
    method is logged, sent to Kapacitor as an ErrorResponse (which fails the task node), and ends the
    connection.
    """

    def info(self) -> udf_pb2.InfoResponse:
        """What the UDF wants and provides (STREAM/BATCH) and its option schema."""
        raise NotImplementedError(f"{type(self).__name__} does not implement info()")

    def init(self, request: udf_pb2.InitRequest) -> udf_pb2.InitResponse:
        """Validate the task's options; answer success=False with a message to fail the task cleanly."""
        raise NotImplementedError(f"{type(self).__name__} does not implement init()")

    def snapshot(self) -> udf_pb2.SnapshotResponse:
        """State for Kapacitor to store; the default is an empty snapshot (Kapacitor stores nothing)."""
        return udf_pb2.SnapshotResponse(snapshot=b"")

    def restore(self, request: udf_pb2.RestoreRequest) -> udf_pb2.RestoreResponse:
        """Restore a snapshot taken by snapshot(); the default refuses."""
        return udf_pb2.RestoreResponse(success=False, error=f"{type(self).__name__} does not support restore")

    def begin_batch(self, begin: udf_pb2.BeginBatch) -> None:
        """Start of a batch (batch edges only)."""
        raise NotImplementedError(f"{type(self).__name__} does not accept batch data")

    def point(self, point: udf_pb2.Point) -> None:
        """One data point (a stream point, or a point inside a batch)."""
        raise NotImplementedError(f"{type(self).__name__} does not accept points")

    def point_run(self, points: list) -> None:
        """Consecutive points that arrived together (a backlog), in order. Called only if a handler
        overrides it, to share per-point work (journal writes, locks) across the run; otherwise every
        point goes to point(). This default calls point() for each."""
        for point in points:
            self.point(point)

    def end_batch(self, end: udf_pb2.EndBatch) -> None:
        """End of a batch (batch edges only)."""
        raise NotImplementedError(f"{type(self).__name__} does not accept batch data")

    def close(self) -> None:
        """The connection ended or the server is shutting down: flush and checkpoint. Default: nothing."""
