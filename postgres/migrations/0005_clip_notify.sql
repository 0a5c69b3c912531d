-- Replicas cache clips' model inputs in memory. Every insert, delete or
-- change of a clip's features notifies the channel 'lift_clips:<schema>'
-- with the clip's id, so that every replica LISTENing drops its copy
-- (outcome counts are not features and do not notify).
CREATE FUNCTION lift_notify_clip() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('lift_clips:' || TG_TABLE_SCHEMA, OLD.id);
    ELSE
        PERFORM pg_notify('lift_clips:' || TG_TABLE_SCHEMA, NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER clips_notify
    AFTER INSERT OR DELETE OR UPDATE OF psychology_score, hook_strength, novelty_score, emotion_data, duration, composite_score
    ON clips FOR EACH ROW EXECUTE FUNCTION lift_notify_clip();
