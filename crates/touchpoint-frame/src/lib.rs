//! Touchpoint's polars edge: path tables and event logs in as [`touchpoint_core::Journeys`], results
//! out as DataFrames; CSV and Parquet, read lazily.
pub mod error;
pub mod paths;
pub mod rollout;
pub mod table;

pub use error::{Error, Result};
pub use paths::{
    check_header, csv_header, first_non_utf8_line, journeys_from_path_csv, journeys_from_path_file,
    journeys_from_paths, paths_frame, read_table, PathOptions,
};
pub use polars;
pub use rollout::{
    credit_panel_of, rollout_frames, rollout_rows, CreditPanelInfo, RolloutColumns, RolloutFrames, TimeKind,
};
pub use table::{
    attribution_table_frame, compare_frame, contribution_frame, contribution_summary_frame, credits_frame,
    f64_column, goals_frame, journey_credit_gaps_of, journey_credits_frame, journey_credits_frame_of,
    lift_tests_from_frame, model_table_frame, position_credits_frame, removal_effects_frame, resamples_frame,
    rows_frame, social_frame, standard_errors_frame, summary_frame, timelines_frames, transitions_frame,
    unattributed_frame, write_credits_csv, write_journey_credits, write_journey_credits_of, CreditSource,
};
pub mod events;
pub mod statistics;
pub mod store;
pub use events::{check_options, journeys_from_events, journeys_from_events_with, times_us, EventOptions};
pub use statistics::{input_touches_frame, journeys_from_statistics, path_column, path_statistics, Gathered};
pub use store::{load_journeys, load_part, save_journeys, KeptPart};
