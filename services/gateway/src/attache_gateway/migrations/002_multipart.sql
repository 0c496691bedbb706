-- Gateway: large files arrive as S3 multipart uploads. Such an upload is an upload session
-- (its id is the attachment's id, as for a presigned PUT) that also records S3's UploadId
-- and the part size every part but the last must have.
--
--   pending ──complete──▶ confirmed | rejected (object deleted)
--      │ abort: AbortMultipartUpload
--      ▼
--   aborted           pending past expires_at: aborted in S3 and the row deleted (sweeper)

ALTER TABLE gateway.upload_sessions
    ADD COLUMN s3_upload_id text,
    ADD COLUMN part_size    bigint,
    ADD CONSTRAINT upload_sessions_multipart_shape
        CHECK ((s3_upload_id IS NULL) = (part_size IS NULL));

-- The sweeper asks which of the uploads S3 lists still belong to a pending session.
CREATE INDEX upload_sessions_s3_upload_id
    ON gateway.upload_sessions (s3_upload_id) WHERE s3_upload_id IS NOT NULL;
