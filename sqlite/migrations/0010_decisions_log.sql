-- An experiment's latest decisions (LogTail: the off-policy estimate in
-- its stats reads the last 20,000) and its log from a cursor (Log) in
-- rowid order: without an index by experiment the tail was read by
-- sorting every decision of the experiment (1.6 s at 370,000). An
-- index on experiment_id holds each entry's rowid after it, in order.
CREATE INDEX decisions_log ON decisions(experiment_id);
