-- A supervisor may re-route a waiting call (comms.call.rerouted): the queue a call counts in is
-- the one named by its latest queuing event, whose stream position is kept here so a redelivered
-- older event never moves it back.
ALTER TABLE analytics_calls ADD COLUMN queue_position bigint;
