//! A WebSocket connection is authenticated once, at `connection_init`, and
//! may stay open for hours. A session revoked meanwhile (a logout, a
//! contact removed, a person who exits or is erased) must not keep reading
//! through it: each operation over the connection, and each update of a
//! subscription, checks the session again and ends when it is gone.

use std::any::TypeId;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextSubscribe,
};
use async_graphql::{Request, Response, ServerError, ServerResult};
use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::context::{Gateway, Viewer, viewer_of_token};
use crate::error::Code;

pub(crate) struct Revalidate;

impl ExtensionFactory for Revalidate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RevalidateExtension)
    }
}

struct RevalidateExtension;

/// The viewer a connection was opened with, and the gateway: only
/// operations over a WebSocket carry a viewer in their session data (an
/// HTTP request's viewer is the request's own, looked up just before).
fn connection(ctx: &ExtensionContext<'_>) -> Option<(Viewer, Gateway)> {
    let viewer = ctx
        .session_data
        .get(&TypeId::of::<Viewer>())?
        .downcast_ref::<Viewer>()?;
    if viewer.user.is_none() && viewer.principal.is_none() {
        return None;
    }
    Some((viewer.clone(), ctx.data_opt::<Gateway>()?.clone()))
}

/// Whether the connection's session still stands for the same viewer.
async fn still_open(gateway: &Gateway, viewer: &Viewer) -> bool {
    match viewer_of_token(gateway, viewer.token.clone()).await {
        Ok(now) => {
            now.user.as_ref().map(|u| u.user_id) == viewer.user.as_ref().map(|u| u.user_id)
                && now.principal == viewer.principal
        }
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed on a WebSocket");
            false
        }
    }
}

fn ended() -> ServerError {
    let mut e = ServerError::new("Votre session a pris fin : reconnectez-vous.", None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", Code::Unauthenticated.as_str());
    e.extensions = Some(extensions);
    e
}

#[async_trait::async_trait]
impl Extension for RevalidateExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Some((viewer, gateway)) = connection(ctx)
            && !still_open(&gateway, &viewer).await
        {
            return Err(ended());
        }
        next.run(ctx, request).await
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let stream = next.run(ctx, stream);
        let Some((viewer, gateway)) = connection(ctx) else {
            return stream;
        };
        stream
            .then(move |response| {
                let (viewer, gateway) = (viewer.clone(), gateway.clone());
                async move {
                    if still_open(&gateway, &viewer).await {
                        (response, false)
                    } else {
                        (Response::from_errors(vec![ended()]), true)
                    }
                }
            })
            // The update that finds the session gone says so, and is the last.
            .scan(false, |over, (response, revoked)| {
                let item = (!*over).then_some(response);
                *over = revoked;
                futures::future::ready(item)
            })
            .boxed()
    }
}
