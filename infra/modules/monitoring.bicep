// Logs and telemetry: a Log Analytics workspace and the workspace-based Application Insights the Functions host
// and the app write to.

@description('Name of the Log Analytics workspace.')
param workspaceName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Azure region.')
param location string

@description('Days the workspace keeps data.')
param retentionInDays int

@description('Tags applied to every resource.')
param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

@description('Application Insights connection string: where to send telemetry (an ingestion address and an instrumentation id, not a credential).')
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString

output applicationInsightsName string = applicationInsights.name
