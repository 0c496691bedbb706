-- Catalog: user profiles (seed 003). One row per token user, (org_id, user_id = sub),
-- created on first use. The image columns only ever name an object the gateway has
-- verified (exists, at most the size limit, its bytes are the declared image type).

CREATE TABLE catalog.profiles (
    org_id                     text        NOT NULL,
    user_id                    text        NOT NULL,
    email                      text,
    nombre                     text,
    apellido                   text,
    profile_image_bucket       text,
    profile_image_key          text,
    profile_image_content_type text,
    profile_image_file_name    text,
    profile_image_size_bytes   bigint,
    -- The gateway's number for the verified upload; a profile only moves to a higher one.
    profile_image_version      bigint,
    profile_image_updated_at   timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id),
    -- An image is all of its attributes or none of them.
    CHECK (
        (profile_image_key IS NULL) = (profile_image_bucket IS NULL)
        AND (profile_image_key IS NULL) = (profile_image_content_type IS NULL)
        AND (profile_image_key IS NULL) = (profile_image_version IS NULL)
        AND (profile_image_key IS NULL) = (profile_image_updated_at IS NULL)
    )
);
-- One object is one user's image, never two profiles'.
CREATE UNIQUE INDEX profiles_image_object
    ON catalog.profiles (profile_image_bucket, profile_image_key)
    WHERE profile_image_key IS NOT NULL;
