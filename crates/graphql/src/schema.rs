//! The schema: its root types, composed from each feature's, and its SDL.

use async_graphql::{MergedObject, MergedSubscription, SDLExportOptions, Schema};

use crate::context::Gateway;
use crate::limits::Limits;
use crate::reads::Reads;
use crate::{
    access, accidents, accounts, consents, conventions, corrections, dashboards, employers,
    erasure, erasure_register, health_log, immersions, inbox, mentorships, notifications, people,
    retention, retention_warnings, staff, structures, testimonies,
};

#[derive(MergedObject, Default, Debug)]
pub struct Query(
    accounts::AccountQuery,
    employers::EmployerQuery,
    people::PeopleQuery,
    immersions::ImmersionQuery,
    dashboards::DashboardQuery,
    inbox::InboxQuery,
    notifications::NotificationQuery,
    structures::StructureQuery,
    access::AccessQuery,
    consents::ConsentQuery,
    health_log::HealthLogQuery,
    staff::StaffQuery,
    erasure_register::ErasureRegisterQuery,
    retention_warnings::RetentionWarningsQuery,
);

#[derive(MergedObject, Default, Debug)]
pub struct Mutation(
    accounts::AccountMutation,
    employers::EmployerMutation,
    people::PeopleMutation,
    immersions::ImmersionMutation,
    notifications::NotificationMutation,
    conventions::ConventionMutation,
    accidents::AccidentMutation,
    mentorships::MentorshipMutation,
    testimonies::TestimonyMutation,
    erasure::ErasureMutation,
    retention::RetentionMutation,
    structures::StructureMutation,
    consents::ConsentMutation,
    corrections::CorrectionMutation,
    staff::StaffMutation,
);

#[derive(MergedSubscription, Default, Debug)]
pub struct Subscription(immersions::ImmersionSubscription, inbox::InboxSubscription);

pub type PasserelleSchema = Schema<Query, Mutation, Subscription>;

pub fn build(gateway: Gateway, limits: Limits) -> PasserelleSchema {
    build_reading(gateway, limits, Reads::primary_only())
}

/// The schema whose reads that may lag go where `reads` says.
pub fn build_reading(gateway: Gateway, limits: Limits, reads: Reads) -> PasserelleSchema {
    // Depth and complexity are measured by the guard, which leaves
    // introspection out of them: async-graphql's own would count it.
    let builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .data(gateway)
    .data(reads)
    .extension(crate::limits::Guard::new(limits, &sdl()))
    .extension(crate::reads::OwnWrites)
    .extension(crate::replays::Replays)
    .extension(crate::revalidate::Revalidate);
    if limits.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema's SDL, sorted, as committed in `graphql-schema/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items()
            .include_specified_by(),
    )
}
