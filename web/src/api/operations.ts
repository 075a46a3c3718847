// Every operation the app sends, typed from schema.graphql by `npm run codegen`.
import { graphql } from '../gql';

export const AccountFields = graphql(`
  fragment AccountFields on Account {
    id
    username
    policies
    disabled
    createdAt
  }
`);

export const VmFields = graphql(`
  fragment VmFields on Vm {
    id
    name
    state
    image
    vcpus
    memoryMib
    diskGib
    failure
    stateReason
    pauseReason
    createdAt
    keyboardLayout
    busy
    ownerId
    ownerName
    allowed
    addresses
    note
    tags
  }
`);

export const LoginMutation = graphql(`
  mutation Login($username: String!, $password: String!) {
    login(username: $username, password: $password) {
      account {
        ...AccountFields
      }
    }
  }
`);

export const MeQuery = graphql(`
  query Me {
    me {
      ...AccountFields
    }
  }
`);

export const LogoutMutation = graphql(`
  mutation Logout {
    logout
  }
`);

export const ChangePasswordMutation = graphql(`
  mutation ChangePassword($current: String!, $new: String!) {
    changePassword(current: $current, new: $new)
  }
`);

export const HostQuery = graphql(`
  query Host {
    host {
      hypervisor {
        available
        unavailableSince
        error
        domainType
        warning
      }
      cpus
      memoryTotalMib
      memoryAvailableMib
      diskTotalGib
      diskAvailableGib
      loadAverage
      allocatedVcpus
      allocatedMemoryMib
      allocatedDiskGib
    }
  }
`);

export const VmsPageQuery = graphql(`
  query VmsPage($first: Int!, $after: String) {
    vms(first: $first, after: $after) {
      edges {
        node {
          ...VmFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const VmLiveUsageQuery = graphql(`
  query VmLiveUsage($first: Int!, $after: String) {
    vms(first: $first, after: $after) {
      edges {
        node {
          id
          liveUsage {
            cpuPercent
            memoryUsedMib
            sampledAt
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const VmQuery = graphql(`
  query Vm($id: ID!) {
    vm(id: $id) {
      ...VmFields
    }
  }
`);

export const VmDetailQuery = graphql(`
  query VmDetail($id: ID!) {
    vm(id: $id) {
      ...VmFields
      autostart
      clonedFromId
      snapshots {
        id
        name
        createdAt
        withMemory
        status
      }
    }
  }
`);

export const VmHistoryQuery = graphql(`
  query VmHistory($id: ID!, $first: Int!) {
    vm(id: $id) {
      id
      events(first: $first) {
        position
        sequence
        at
        event
        actor
        detail
      }
    }
  }
`);

export const VmCredentialsQuery = graphql(`
  query VmCredentials($id: ID!) {
    vm(id: $id) {
      id
      credentials {
        id
        name
        createdAt
        expiresAt
        revokedAt
        lastUsedAt
      }
    }
  }
`);

export const VmEventsSubscription = graphql(`
  subscription VmEvents($vmId: ID) {
    vmEvents(vmId: $vmId) {
      vmId
      state
      event
      at
    }
  }
`);

export const ImagesQuery = graphql(`
  query Images {
    images {
      id
      name
      status
      osFamily
      osVersion
      defaultUser
      minDiskGib
    }
    keyboardLayouts
  }
`);

export const ImageFields = graphql(`
  fragment ImageFields on Image {
    id
    name
    status
    osFamily
    osVersion
    defaultUser
    firmware
    description
    sourceKind
    source
    format
    convertedFrom
    sha256
    sizeBytes
    virtualSizeBytes
    minDiskGib
    usedBy
    failure
    createdAt
  }
`);

export const ImageListQuery = graphql(`
  query ImageList {
    images {
      ...ImageFields
    }
  }
`);

export const ImageCatalogueQuery = graphql(`
  query ImageCatalogue {
    imageCatalogue {
      key
      name
      osFamily
      osVersion
      url
      checksumUrl
      defaultUser
      firmware
      description
    }
  }
`);

export const ImportImageMutation = graphql(`
  mutation ImportImage($input: ImportImageInput!) {
    importImage(input: $input) {
      ...ImageFields
    }
  }
`);

export const RetryImageImportMutation = graphql(`
  mutation RetryImageImport($id: ID!) {
    retryImageImport(id: $id) {
      ...ImageFields
    }
  }
`);

export const RetireImageMutation = graphql(`
  mutation RetireImage($id: ID!) {
    retireImage(id: $id) {
      ...ImageFields
    }
  }
`);

export const ReinstateImageMutation = graphql(`
  mutation ReinstateImage($id: ID!) {
    reinstateImage(id: $id) {
      ...ImageFields
    }
  }
`);

export const DeleteImageMutation = graphql(`
  mutation DeleteImage($id: ID!) {
    deleteImage(id: $id)
  }
`);

export const ImageProgressSubscription = graphql(`
  subscription ImageProgress($id: ID) {
    imageProgress(id: $id) {
      imageId
      phase
      bytes
      total
      rate
      error
    }
  }
`);

export const CreateVmMutation = graphql(`
  mutation CreateVm($input: CreateVmInput!) {
    createVm(input: $input) {
      ...VmFields
    }
  }
`);

export const StartVmMutation = graphql(`
  mutation StartVm($id: ID!) {
    startVm(id: $id) {
      ...VmFields
    }
  }
`);

export const ShutdownVmMutation = graphql(`
  mutation ShutdownVm($id: ID!) {
    shutdownVm(id: $id) {
      ...VmFields
    }
  }
`);

export const ForceStopVmMutation = graphql(`
  mutation ForceStopVm($id: ID!) {
    forceStopVm(id: $id) {
      ...VmFields
    }
  }
`);

export const RebootVmMutation = graphql(`
  mutation RebootVm($id: ID!) {
    rebootVm(id: $id) {
      ...VmFields
    }
  }
`);

export const PauseVmMutation = graphql(`
  mutation PauseVm($id: ID!) {
    pauseVm(id: $id) {
      ...VmFields
    }
  }
`);

export const ResumeVmMutation = graphql(`
  mutation ResumeVm($id: ID!) {
    resumeVm(id: $id) {
      ...VmFields
    }
  }
`);

export const DeleteVmMutation = graphql(`
  mutation DeleteVm($id: ID!) {
    deleteVm(id: $id)
  }
`);

export const RenameVmMutation = graphql(`
  mutation RenameVm($id: ID!, $name: String!) {
    renameVm(id: $id, name: $name) {
      ...VmFields
    }
  }
`);

export const ResizeVmMutation = graphql(`
  mutation ResizeVm($id: ID!, $vcpus: Int!, $memoryMib: Int!, $diskGib: Int!) {
    resizeVm(id: $id, vcpus: $vcpus, memoryMib: $memoryMib, diskGib: $diskGib) {
      ...VmFields
    }
  }
`);

export const SetVmLabelsMutation = graphql(`
  mutation SetVmLabels($id: ID!, $note: String, $tags: [String!]!) {
    setVmLabels(id: $id, note: $note, tags: $tags) {
      ...VmFields
    }
  }
`);

export const CloneVmMutation = graphql(`
  mutation CloneVm($id: ID!, $name: String!) {
    cloneVm(id: $id, name: $name) {
      ...VmFields
    }
  }
`);

export const TakeSnapshotMutation = graphql(`
  mutation TakeSnapshot($vmId: ID!, $name: String!) {
    takeSnapshot(vmId: $vmId, name: $name) {
      id
    }
  }
`);

export const RevertSnapshotMutation = graphql(`
  mutation RevertSnapshot($vmId: ID!, $snapshotId: ID!) {
    revertSnapshot(vmId: $vmId, snapshotId: $snapshotId)
  }
`);

export const DeleteSnapshotMutation = graphql(`
  mutation DeleteSnapshot($vmId: ID!, $snapshotId: ID!) {
    deleteSnapshot(vmId: $vmId, snapshotId: $snapshotId)
  }
`);

export const IssueCredentialMutation = graphql(`
  mutation IssueCredential($vmId: ID!, $name: String!, $expiresAt: DateTime) {
    issueVmCredential(vmId: $vmId, name: $name, expiresAt: $expiresAt) {
      secret
      credential {
        id
        name
        expiresAt
      }
    }
  }
`);

export const RevokeCredentialMutation = graphql(`
  mutation RevokeCredential($vmId: ID!, $credentialId: ID!) {
    revokeVmCredential(vmId: $vmId, credentialId: $credentialId)
  }
`);

export const OpenConsoleMutation = graphql(`
  mutation OpenConsole($vmId: ID!, $kind: ConsoleKind!, $viewOnly: Boolean!) {
    openConsole(vmId: $vmId, kind: $kind, viewOnly: $viewOnly) {
      url
      expiresAt
      vmId
      vmName
      viewOnly
      endsAt
    }
  }
`);

export const OpenConsoleWithCredentialMutation = graphql(`
  mutation OpenConsoleWithCredential($secret: String!, $kind: ConsoleKind!) {
    openConsoleWithCredential(secret: $secret, kind: $kind) {
      url
      expiresAt
      vmId
      vmName
      viewOnly
      endsAt
    }
  }
`);

export const ScreenshotQuery = graphql(`
  query Screenshot($id: ID!, $maxWidth: Int!) {
    vmScreenshot(id: $id, maxWidth: $maxWidth)
  }
`);

export const AccountsQuery = graphql(`
  query Accounts {
    accounts {
      ...AccountFields
      vmGrants {
        vmId
        vmName
        granted
        denied
      }
    }
  }
`);

export const PolicyCatalogueQuery = graphql(`
  query PolicyCatalogue {
    policyCatalogue {
      name
      description
      vmScoped
    }
    rolePresets {
      name
      label
      description
      policies
    }
  }
`);

export const CreateAccountMutation = graphql(`
  mutation CreateAccount($input: CreateAccountInput!) {
    createAccount(input: $input) {
      account {
        ...AccountFields
      }
      password
    }
  }
`);

export const GrantPolicyMutation = graphql(`
  mutation GrantPolicy($accountId: ID!, $policy: String!, $vmId: ID) {
    grantPolicy(accountId: $accountId, policy: $policy, vmId: $vmId)
  }
`);

export const GrantPoliciesMutation = graphql(`
  mutation GrantPolicies($accountId: ID!, $policies: [String!]!, $vmId: ID) {
    grantPolicies(accountId: $accountId, policies: $policies, vmId: $vmId) {
      id
    }
  }
`);

export const RevokePolicyMutation = graphql(`
  mutation RevokePolicy($accountId: ID!, $policy: String!, $vmId: ID) {
    revokePolicy(accountId: $accountId, policy: $policy, vmId: $vmId)
  }
`);

export const DisableAccountMutation = graphql(`
  mutation DisableAccount($id: ID!) {
    disableAccount(id: $id)
  }
`);

export const EnableAccountMutation = graphql(`
  mutation EnableAccount($id: ID!) {
    enableAccount(id: $id) {
      id
    }
  }
`);

export const DeleteAccountMutation = graphql(`
  mutation DeleteAccount($id: ID!) {
    deleteAccount(id: $id)
  }
`);

export const AuditEntryFields = graphql(`
  fragment AuditEntryFields on AuditEntry {
    chainIndex
    position
    at
    actor
    actorName
    clientAddress
    action
    vmId
    accountId
    outcome
    details
    sessionId
  }
`);

export const AuditPageQuery = graphql(`
  query AuditPage(
    $first: Int!
    $after: String
    $vmId: ID
    $actor: String
    $action: String
    $outcome: String
    $from: DateTime
    $to: DateTime
  ) {
    auditLog(first: $first, after: $after, vmId: $vmId, actor: $actor, action: $action, outcome: $outcome, from: $from, to: $to) {
      edges {
        node {
          ...AuditEntryFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const AuditTailSubscription = graphql(`
  subscription AuditTail($vmId: ID, $actor: String, $action: String, $outcome: String) {
    auditTail(vmId: $vmId, actor: $actor, action: $action, outcome: $outcome) {
      ...AuditEntryFields
    }
  }
`);

export const RecordingQuery = graphql(`
  query Recording($session: ID!, $from: Int!) {
    consoleRecording(session: $session) {
      startedAt
      finishedAt
      lostBytes
      frames(from: $from, first: 5000) {
        seq
        atMs
        text
      }
    }
  }
`);

export const UsageRowFields = graphql(`
  fragment UsageRowFields on UsageRow {
    key
    label
    runningHours
    vcpuHours
    memoryGibHours
    cpuSeconds
    memoryAvgMib
    memoryPeakMib
    diskReadBytes
    diskWriteBytes
    netRxBytes
    netTxBytes
    consoleSessions
    consoleMinutes
  }
`);

export const UsageReportQuery = graphql(`
  query UsageReport($from: DateTime!, $to: DateTime!, $groupBy: UsageGroup!, $asOf: DateTime) {
    usageReport(from: $from, to: $to, groupBy: $groupBy, asOf: $asOf) {
      from
      to
      asOf
      groupBy
      rows {
        ...UsageRowFields
      }
      totals {
        ...UsageRowFields
      }
    }
  }
`);

export const HostUsageQuery = graphql(`
  query HostUsage($from: DateTime!, $to: DateTime!) {
    hostUsage(from: $from, to: $to) {
      stepSeconds
      points {
        at
        cpuPercent
        memoryUsedMib
        memoryTotalMib
      }
    }
  }
`);

export const VmUsageQuery = graphql(`
  query VmUsage($vmId: ID!, $from: DateTime!, $to: DateTime!) {
    vmUsage(vmId: $vmId, from: $from, to: $to) {
      stepSeconds
      points {
        at
        cpuPercent
        memoryAvgMib
        memoryPeakMib
        diskReadBytesPerSecond
        diskWriteBytesPerSecond
        netRxBytesPerSecond
        netTxBytesPerSecond
      }
    }
  }
`);
