-- A call's routing row outlives its end for an hour, marked `ended_at`: a reservation for a call
-- that has ended is refused, so no agent is put on a call nobody will release.
ALTER TABLE routing_calls ADD COLUMN ended_at timestamptz;
CREATE INDEX routing_calls_ended ON routing_calls (ended_at) WHERE ended_at IS NOT NULL;
