# The blog's image: Hugo renders the site once, natively on the build machine; the final stage
# is an unprivileged nginx with no RUN, so a multi-platform build needs no emulation.
#
# Base images are build arguments so mirrors and tests can substitute their own. Keep them
# pinned; bump them deliberately (and let `cargo xtask scan` judge the result).
ARG HUGO_IMAGE=ghcr.io/gohugoio/hugo:v0.139.0
ARG NGINX_IMAGE=docker.io/nginxinc/nginx-unprivileged:1.27.4-alpine

FROM --platform=$BUILDPLATFORM ${HUGO_IMAGE} AS site
ARG BASE_URL=http://localhost:8080/
ARG VERSION=dev
ARG GIT_SHA=
ARG SOURCE_DATE_EPOCH=0
# The build stage writes its own work tree; only the final stage must be unprivileged.
USER 0
WORKDIR /src
COPY site/ ./
# File times are set to the commit time so the same commit always gives the same layer.
RUN HUGO_PARAMS_VERSION="$VERSION" HUGO_PARAMS_REVISION="$GIT_SHA" \
      hugo --minify --baseURL "$BASE_URL" --destination /out \
 && find /out -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +

# podman carries an earlier stage's --platform over, so the final stage names its own.
FROM --platform=$TARGETPLATFORM ${NGINX_IMAGE}
COPY --link site/nginx/default.conf /etc/nginx/conf.d/default.conf
COPY --link site/nginx/security-headers.conf /etc/nginx/snippets/security-headers.conf
# The site lives in /srv/blog: trivy's secret scanner skips /usr/share, nginx's usual root.
COPY --link --from=site /out /srv/blog
USER 101
EXPOSE 8080
