// Starts GraphiQL on the page's own API; the session cookie goes with each
// request, as with the pages.
const fetcher = GraphiQL.createFetcher({ url: '/graphql' });
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true })
);
