//! Procedures stored type-erased (JSON in, JSON out) with their schemas kept for the
//! OpenAPI document and query-string coercion.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::Value;

use crate::context::{Authenticator, Ctx};
use crate::error::{ErrorCode, Issue, RpcError};
use crate::metrics::CallSeries;
use crate::procedure::{Access, Kind, NoInput, Procedure};
use crate::validation::decode_input;

/// A procedure's description, as the OpenAPI document and the dispatcher need it.
#[derive(Debug, Clone)]
pub struct ProcedureInfo {
    pub path: &'static str,
    pub kind: Kind,
    pub access: Access,
    pub summary: &'static str,
    pub errors: &'static [ErrorCode],
    /// `None` for procedures that take no input.
    pub input_schema: Option<Value>,
    pub output_schema: Value,
    /// The names the input and output types have in their schemas (`Credentials`, `Auth`):
    /// what generated client types are called.
    pub input_name: Option<String>,
    pub output_name: String,
}

pub(crate) trait ErasedProcedure: Send + Sync {
    fn info(&self) -> &ProcedureInfo;
    fn series(&self) -> &CallSeries;
    /// Runs the procedure on an already transformer-decoded input (`None`: absent).
    fn call(&self, ctx: Ctx, input: Option<Value>) -> BoxFuture<'static, Result<Value, RpcError>>;
}

struct Typed<P> {
    procedure: Arc<P>,
    info: ProcedureInfo,
    series: CallSeries,
}

impl<P: Procedure> ErasedProcedure for Typed<P> {
    fn info(&self) -> &ProcedureInfo {
        &self.info
    }

    fn series(&self) -> &CallSeries {
        &self.series
    }

    fn call(&self, ctx: Ctx, input: Option<Value>) -> BoxFuture<'static, Result<Value, RpcError>> {
        let procedure = Arc::clone(&self.procedure);
        let schema = self.info.input_schema.as_ref();
        // serde reads a struct from an array too; an object input must be an object.
        let wants_object = schema.is_some_and(|s| s.get("type") == Some(&Value::from("object")));
        let decoded = if wants_object && input.as_ref().is_some_and(|v| !v.is_object()) {
            let issue = Issue { message: "Expected object".into(), path: Vec::new(), code: "invalid_type".into() };
            Err(RpcError::validation(vec![issue]))
        } else {
            decode_input::<P::Input>(input, schema)
        };
        Box::pin(async move {
            let output = procedure.call(ctx, decoded?).await?;
            serde_json::to_value(output).map_err(RpcError::internal)
        })
    }
}

/// The JSON Schema an input of type `T` is checked against (see [`decode_input`]).
pub fn input_schema<T: JsonSchema>() -> Value {
    schema_of::<T>(true)
}

/// JSON Schema of `T`, self-contained (no `$ref`s), for OpenAPI 3.1.
fn schema_of<T: JsonSchema>(for_input: bool) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let settings = if for_input { settings.for_deserialize() } else { settings.for_serialize() };
    let mut schema = settings.into_generator().into_root_schema_for::<T>().to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("title");
    }
    if for_input {
        document_clean_strings(&mut schema);
    }
    schema
}

/// What every input string must match (see `validation.rs`): no NUL or other C0 control
/// character but tab.
const CLEAN_STRING: &str = "^[^\\u0000-\\u0008\\u000A-\\u001F]*$";

/// Says in the schema what validation enforces for every string: a `pattern` on each string
/// property, so that documented inputs are inputs the gateway accepts.
fn document_clean_strings(schema: &mut Value) {
    let Some(Value::Object(properties)) = schema.get_mut("properties") else { return };
    for property in properties.values_mut() {
        let is_string = match property.get("type") {
            Some(Value::String(t)) => t == "string",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
            _ => false,
        };
        if let (true, Some(obj)) = (is_string, property.as_object_mut()) {
            obj.entry("pattern").or_insert_with(|| Value::from(CLEAN_STRING));
        }
        document_clean_strings(property);
    }
}

/// All procedures of a gateway, and the authenticator that resolves callers.
#[derive(Default, Clone)]
pub struct Registry {
    procedures: BTreeMap<&'static str, Arc<dyn ErasedProcedure>>,
    authenticator: Option<Arc<dyn Authenticator>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a procedure. Two procedures on one path are a programming error.
    pub fn register<P: Procedure>(&mut self, procedure: P) -> &mut Self {
        let takes_input = TypeId::of::<P::Input>() != TypeId::of::<NoInput>();
        let info = ProcedureInfo {
            path: P::PATH,
            kind: P::KIND,
            access: P::ACCESS,
            summary: P::SUMMARY,
            errors: P::ERRORS,
            input_schema: takes_input.then(|| schema_of::<P::Input>(true)),
            output_schema: schema_of::<P::Output>(false),
            input_name: takes_input.then(|| P::Input::schema_name().into_owned()),
            output_name: P::Output::schema_name().into_owned(),
        };
        let erased = Arc::new(Typed { procedure: Arc::new(procedure), info, series: CallSeries::new(P::PATH) });
        assert!(self.procedures.insert(P::PATH, erased).is_none(), "procedure {} registered twice", P::PATH);
        self
    }

    pub fn authenticate_with(&mut self, authenticator: impl Authenticator) -> &mut Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    pub fn authenticator(&self) -> Option<Arc<dyn Authenticator>> {
        self.authenticator.clone()
    }

    /// The procedure at `path`, or tRPC's NOT_FOUND for it.
    pub(crate) fn find(&self, path: &str) -> Result<&Arc<dyn ErasedProcedure>, RpcError> {
        self.get(path).ok_or_else(|| Self::not_found(path))
    }

    /// tRPC's NOT_FOUND for a path no procedure has.
    pub(crate) fn not_found(path: &str) -> RpcError {
        RpcError::not_found(format!("No procedure found on path \"{path}\""))
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Arc<dyn ErasedProcedure>> {
        self.procedures.get(path)
    }

    pub fn procedures(&self) -> impl Iterator<Item = &ProcedureInfo> {
        self.procedures.values().map(|p| p.info())
    }
}
