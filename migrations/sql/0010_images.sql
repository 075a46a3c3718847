-- The image catalogue, projected from the Image aggregate's events: one row per image that is
-- not deleted. Queries live beside the projection (projections/src/read_models/images.rs).
CREATE TABLE images
(
    id                 text PRIMARY KEY,
    name               text        NOT NULL,
    status             text        NOT NULL,
    os_family          text,
    os_version         text,
    default_user       text,
    firmware           text        NOT NULL,
    description        text,
    -- `url`, `upload` or `folder`, and the URL or file name it came from.
    source_kind        text        NOT NULL,
    source             text        NOT NULL,
    file               text,
    format             text,
    converted_from     text,
    sha256             text,
    size_bytes         bigint,
    virtual_size_bytes bigint,
    failure            text,
    -- Sequence of the last event applied: lets a writer wait until its own change is visible.
    version            bigint      NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE INDEX images_importing ON images (id) WHERE status = 'importing';
CREATE INDEX vms_image ON vms (image);
-- Which VMs were created on an image, from the log itself (deleting an image asks).
CREATE INDEX events_vm_image ON events ((payload->'VmCreated'->>'image'))
    WHERE event_type = 'VmCreated';
